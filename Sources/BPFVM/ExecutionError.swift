import BPFCore

/// A run-time failure of a program, with the instruction where it happened.
public struct ExecutionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// A load or store outside every region the program was given (checked mode only).
        case memoryFault(address: UInt64, size: Int, write: Bool)
        /// More than ``BPFLimits/maxCallFrames`` nested bpf-to-bpf calls.
        case callDepthExceeded
        /// `callx` to a helper id with no registered helper.
        case unknownHelper(Int64)
        /// The instruction budget ran out (checked mode only).
        case instructionLimitExceeded(UInt64)
        /// A helper argument is not what the helper's prototype requires (checked mode only).
        case invalidHelperArgument(helper: Int32, register: Int, reason: String)
    }

    /// What went wrong.
    public var kind: Kind
    /// Index of the faulting instruction.
    public var pc: Int

    public var description: String {
        switch kind {
        case let .memoryFault(address, size, write):
            "instruction \(pc): invalid \(write ? "write" : "read") of \(size) byte\(size == 1 ? "" : "s") at 0x\(String(address, radix: 16)) outside the program's memory"
        case .callDepthExceeded:
            "instruction \(pc): the call stack is too deep (at most 8 frames)"
        case let .unknownHelper(id):
            "instruction \(pc): callx to helper #\(id), which is not registered"
        case let .instructionLimitExceeded(limit):
            "instruction \(pc): instruction limit of \(limit) exceeded"
        case let .invalidHelperArgument(helper, register, reason):
            "instruction \(pc): R\(register) of helper \(HelperID(rawValue: helper).name.map { "bpf_\($0)" } ?? "")#\(helper): \(reason)"
        }
    }
}

/// A region of host memory a program may access in checked mode.
public struct MemoryRegion: Sendable, Equatable {
    /// First address.
    public var start: UInt64
    /// Length in bytes.
    public var length: UInt64
    /// Whether stores are allowed.
    public var writable: Bool

    public init(start: UInt64, length: UInt64, writable: Bool) {
        self.start = start
        self.length = length
        self.writable = writable
    }

    /// The region covering `buffer`.
    public init(_ buffer: UnsafeMutableRawBufferPointer, writable: Bool = true) {
        self.init(start: UInt64(UInt(bitPattern: buffer.baseAddress)), length: UInt64(buffer.count), writable: writable)
    }

    @inline(__always)
    func contains(_ address: UInt64, _ size: Int) -> Bool {
        address >= start && address &- start <= length && UInt64(size) <= length &- (address &- start)
    }
}

/// How memory accesses are treated during execution.
public enum ExecutionMode: Sendable, Equatable {
    /// No run-time checks: the verifier's proof is what makes the program safe (the default).
    case fast
    /// Bounds-check every load and store against the stack and the given regions, and stop
    /// after `instructionLimit` instructions — the safety net for unverified programs.
    case checked(instructionLimit: UInt64 = 10_000_000)
    /// Native code from ``JITProgram`` where the host has a JIT (x86-64), the interpreter's
    /// ``fast`` mode elsewhere (and for a bare ``Interpreter``). No run-time checks.
    case jit
}

public import BPFCore
public import BPFMaps
import BPFPlatform

/// A program compiled to native x86-64 code.
///
/// Like the kernel's JIT it maps BPF registers onto machine registers and calls helpers through
/// the same C entry points as the interpreter; the code lives in W^X memory freed with the
/// instance. Memory accesses are not checked: compile only programs the verifier accepted (or
/// that ran cleanly in checked mode). One instance runs one program at a time.
public final class JITProgram {
    /// Compilation choices.
    public struct Options: Sendable {
        /// XOR every immediate with a random key so that no chosen constant appears in the
        /// code (against JIT spraying; the kernel's `bpf_jit_harden`). Costs an instruction or
        /// two per constant.
        public var blindConstants: Bool
        /// Keep the assembly text of the code, for ``listing``.
        public var keepListing: Bool

        public init(blindConstants: Bool = false, keepListing: Bool = false) {
            self.blindConstants = blindConstants
            self.keepListing = keepListing
        }
    }

    /// Whether this host can run compiled code (x86-64 and arm64); elsewhere use the ``Interpreter``.
    public static var isSupported: Bool { NativeCode.Architecture.host != nil }

    /// The program as given.
    public var instructions: [Instruction] { code.instructions }
    /// The machine code.
    public var machineCode: [UInt8] { code.bytes }
    /// Where each instruction's native code starts in ``machineCode``.
    public var instructionOffsets: [Int] { code.instructionOffsets }
    /// Nanoseconds the compilation took (decoding, selection, encoding, mapping).
    public let compileNanoseconds: Double

    /// The compiled code, for this host's architecture.
    public let code: NativeCode
    private let memory: ExecutableMemory
    private let runtime: UnsafeMutableRawPointer
    private let helperContext: UnsafeMutablePointer<HelperContext>
    private let entry: UnsafeMutablePointer<UInt64>
    private let function: @convention(c) (UInt64, UInt64, UnsafeMutableRawPointer) -> UInt64

    /// Validates and compiles `instructions`.
    /// - Throws: ``PreparationError`` naming the malformed instruction or unknown helper, or saying
    ///   that this host has no JIT.
    /// - Parameter maps: the maps the program's `lddw` instructions refer to; lookups in array
    ///   maps among them are inlined, as the kernel's JIT does.
    public convenience init(
        _ instructions: [Instruction], helpers table: HelperTable = .standard, userData: UnsafeMutableRawPointer? = nil,
        maps: [BPFMap] = [], options: Options = Options()
    ) throws(PreparationError) {
        guard Self.isSupported else { throw .host("the JIT compiles to x86-64 and arm64; this host needs the interpreter") }
        try self.init(try DecodedProgram(instructions, helpers: table), userData: userData, maps: maps, options: options)
    }

    /// Compiles a decoded program (the one an ``Interpreter`` of the same program was made from).
    package init(
        _ program: DecodedProgram, userData: UnsafeMutableRawPointer? = nil, maps: [BPFMap] = [],
        options: Options = Options()
    ) throws(PreparationError) {
        guard let architecture = NativeCode.Architecture.host else { throw .host("the JIT compiles to x86-64 and arm64; this host needs the interpreter") }
        let start = monotonicNanoseconds()
        code = try NativeCode(program, for: architecture, maps: maps, options: options)
        guard let memory = ExecutableMemory(code.bytes) else {
            throw .host("cannot map executable memory (errno \(errno))")
        }
        self.memory = memory
        function = unsafeBitCast(memory.base, to: (@convention(c) (UInt64, UInt64, UnsafeMutableRawPointer) -> UInt64).self)

        runtime = .allocate(byteCount: JITRuntimeBlock.size, alignment: 64)
        runtime.initializeMemory(as: UInt8.self, repeating: 0, count: JITRuntimeBlock.size)
        helperContext = .allocate(capacity: 1)
        helperContext.initialize(to: HelperContext(userData: userData))
        runtime.storeBytes(of: UInt64(UInt(bitPattern: helperContext)), toByteOffset: Int(JITRuntimeBlock.helperContext), as: UInt64.self)
        JITRuntime.install(in: runtime)
        program.helpers.copy(into: (runtime + Int(JITRuntimeBlock.helpers)).bindMemory(to: HelperFunction?.self, capacity: HelperTable.capacity))
        entry = ProgramEntry.allocate(interpreterCode: 0, nativeEntry: UInt64(UInt(bitPattern: memory.base)) + UInt64(code.tailCallEntry))
        compileNanoseconds = Double(monotonicNanoseconds() - start)
    }

    deinit {
        helperContext.deinitialize(count: 1)
        helperContext.deallocate()
        runtime.deallocate()
        entry.deallocate()
    }

    /// The state helpers see: the task they describe, the memory they may read, host data.
    public var helperContextValue: HelperContext {
        get { helperContext.pointee }
        set { helperContext.pointee = newValue }
    }

    /// The helper context itself, for a caller that sets its fields before each run.
    package var helperContextPointer: UnsafeMutablePointer<HelperContext> { helperContext }

    /// What a program array slot holds for this program (see ``Interpreter/entryHandle``).
    public var entryHandle: UInt64 { UInt64(UInt(bitPattern: entry)) }

    /// Where the machine code is mapped.
    package var codeAddress: UInt64 { UInt64(UInt(bitPattern: memory.base)) }
    /// The size of the native code in bytes (`bytes_jited`, as the kernel reports its JIT's).
    public var codeByteCount: Int { memory.codeLength }

    /// Where tail calls into this program land.
    package var nativeEntry: UInt64 { entry[1] }

    /// Runs the program with `r1` and `r2` as its arguments and returns r0.
    public func run(_ r1: UInt64 = 0, _ r2: UInt64 = 0) throws(ExecutionError) -> UInt64 {
        runtime.storeBytes(of: 0, toByteOffset: Int(JITRuntimeBlock.errorKind), as: UInt64.self)
        let r0 = function(r1, r2, runtime)
        let kind = runtime.load(fromByteOffset: Int(JITRuntimeBlock.errorKind), as: UInt64.self)
        if kind == 0 { return r0 }
        let pc = Int(runtime.load(fromByteOffset: Int(JITRuntimeBlock.errorPC), as: UInt64.self))
        switch JITRuntimeBlock.ErrorKind(rawValue: Int(kind)) {
        case .callDepth: throw ExecutionError(kind: .callDepthExceeded, pc: pc)
        case .unknownHelper:
            throw ExecutionError(
                kind: .unknownHelper(Int64(bitPattern: runtime.load(fromByteOffset: Int(JITRuntimeBlock.errorValue), as: UInt64.self))), pc: pc)
        default: return 0  // LD_ABS/LD_IND outside the packet
        }
    }

    /// Runs the program over `memory`, passing its address in r1 and its length in r2 (the
    /// conformance suite's convention).
    public func run(memory: UnsafeMutableRawBufferPointer) throws(ExecutionError) -> UInt64 {
        try run(UInt64(UInt(bitPattern: memory.baseAddress)), UInt64(memory.count))
    }

    /// Each native instruction: offset, bytes and text (with ``Options/keepListing``).
    package var assembly: [(offset: Int, bytes: [UInt8], text: String)] { code.assembly }

    /// The native code as text, a block per BPF instruction (see ``NativeCode/listing``).
    public var listing: String? { code.listing }
}

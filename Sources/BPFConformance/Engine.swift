public import BPFCore
public import BPFVM

/// The engines a program can be run on.
public enum Engine: String, Sendable, CaseIterable {
    /// The interpreter with no run-time checks.
    case interpreter
    /// The interpreter bounds-checking every access.
    case checked
    /// Native code from the x86-64 JIT.
    case jit

    /// The engines this host has (the JIT needs x86-64).
    public static var available: [Engine] { allCases.filter { $0 != .jit || JITProgram.isSupported } }

    /// How the userspace runtime runs a program on this engine.
    public var mode: ExecutionMode {
        switch self {
        case .checked: .checked()
        case .interpreter: .fast
        case .jit: .jit
        }
    }

    /// Prepares `instructions` on this engine; the result runs them over a memory buffer
    /// (r1 = its address, r2 = its length).
    public func load(_ instructions: [Instruction]) throws(PreparationError) -> (UnsafeMutableRawBufferPointer) throws(ExecutionError) -> UInt64 {
        if self == .jit {
            let program = try JITProgram(instructions)
            return { (buffer) throws(ExecutionError) in try program.run(memory: buffer) }
        }
        let interpreter = try Interpreter(instructions)
        let mode = self.mode
        return { (buffer) throws(ExecutionError) in try interpreter.run(memory: buffer, mode: mode) }
    }
}

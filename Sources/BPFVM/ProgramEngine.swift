public import BPFCore

/// What runs a prepared program: the ``Interpreter`` or native code from the ``JITProgram``.
public protocol ProgramEngine: AnyObject {
    /// Runs the program with r1 and r2 as its arguments and returns r0. `mode` and `regions`
    /// matter to the interpreter (checked runs); native code runs unchecked.
    func run(_ r1: UInt64, _ r2: UInt64, mode: ExecutionMode, regions: [MemoryRegion]) throws(ExecutionError) -> UInt64
    /// The state helpers see: the task they describe, the memory they may read, host data.
    var helperContextValue: HelperContext { get set }
}

extension Interpreter: ProgramEngine {}

extension JITProgram: ProgramEngine {
    public func run(_ r1: UInt64, _ r2: UInt64, mode: ExecutionMode, regions: [MemoryRegion]) throws(ExecutionError) -> UInt64 {
        try run(r1, r2)
    }
}

extension ExecutionMode {
    /// The engines by the names the CLI takes (`--engine`): the unchecked interpreter, the
    /// checked interpreter, native code.
    public static let all: [ExecutionMode] = [.fast, .checked(), .jit]

    /// The engines this host has (the JIT needs x86-64).
    public static var available: [ExecutionMode] { all.filter { $0 != .jit || JITProgram.isSupported } }

    /// `interpreter`, `checked` or `jit`.
    public var name: String {
        switch self {
        case .fast: "interpreter"
        case .checked: "checked"
        case .jit: "jit"
        }
    }

    /// The mode named `name` (``name``), with the default instruction limit when checked.
    public init?(name: String) {
        guard let mode = Self.all.first(where: { $0.name == name }) else { return nil }
        self = mode
    }

    /// Prepares `instructions` for this mode's engine; the result runs them over a memory
    /// buffer (r1 = its address, r2 = its length).
    public func prepare(_ instructions: [Instruction]) throws(PreparationError) -> (UnsafeMutableRawBufferPointer) throws(ExecutionError) -> UInt64 {
        if self == .jit {
            let program = try JITProgram(instructions)
            return { (buffer) throws(ExecutionError) in try program.run(memory: buffer) }
        }
        let interpreter = try Interpreter(instructions)
        return { (buffer) throws(ExecutionError) in try interpreter.run(memory: buffer, mode: self) }
    }
}

/// Why the verifier refused a program, where, and in what state: the instruction (index and
/// text), the message in the kernel's vocabulary, the registers at that point, and the C source
/// line when the object carries BTF line info.
public struct VerificationError: Error, Sendable, CustomStringConvertible {
    /// Index of the instruction the proof failed at.
    public var instruction: Int
    /// The instruction, disassembled.
    public var text: String
    /// What is wrong (`R1 invalid mem access 'scalar'`, `invalid access to packet …`).
    public var message: String
    /// The registers of the innermost frame at that point, as the kernel's log prints them.
    public var registers: String
    /// The C source line of the instruction (`file.c:12: code`), when known.
    public var sourceLine: String?

    public init(instruction: Int, text: String, message: String, registers: String = "", sourceLine: String? = nil) {
        self.instruction = instruction
        self.text = text
        self.message = message
        self.registers = registers
        self.sourceLine = sourceLine
    }

    public var description: String {
        var s = "instruction \(instruction) (\(text)): \(message)"
        if !registers.isEmpty { s += "\n  state: \(registers)" }
        if let sourceLine { s += "\n  source: \(sourceLine)" }
        return s
    }
}

/// What verifying a program took.
public struct VerifierReport: Sendable {
    /// Instructions processed over all paths (the kernel's `processed N insns`).
    public var processedInstructions: Int
    /// States remembered for pruning (`total_states`), and the most alive at once.
    public var totalStates: Int
    public var peakStates: Int
    /// Paths cut short because an explored state already covered them.
    public var prunedPaths: Int
    /// Stack bytes the deepest-using function needs.
    public var stackDepth: Int
    /// One past the highest context byte the program reads or writes.
    public var contextExtent: Int
    /// The load and store instructions whose base register holds the context, on every path
    /// (the kernel's `save_aux_ptr_type` refuses one that holds it on some only): what a loader
    /// converts to its own context layout, as the kernel's `convert_ctx_accesses` does.
    public var contextAccesses: [Int] = []
    /// Time taken.
    public var nanoseconds: UInt64
    /// The step-by-step log, when asked for.
    public var log: [String]
}

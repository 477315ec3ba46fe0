public import BPFCore

/// Why a program cannot be prepared for an engine, and where.
public enum PreparationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The program is malformed: the validator's finding, naming the instruction.
    case invalid(ValidationError)
    /// Instruction `instruction` is well formed but cannot run here: a helper that is not
    /// registered, a kernel function call, a map reference left unrelocated.
    case unsupported(instruction: Int, reason: String)
    /// The host cannot run programs this way: no JIT for its architecture, executable memory refused.
    case host(String)

    /// The offending instruction, when there is one.
    public var index: Int? {
        switch self {
        case let .invalid(error): error.index
        case let .unsupported(instruction, _): instruction
        case .host: nil
        }
    }

    public var description: String {
        switch self {
        case let .invalid(error): error.description
        case let .unsupported(_, reason): reason
        case let .host(reason): reason
        }
    }
}

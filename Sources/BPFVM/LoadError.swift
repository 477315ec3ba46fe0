import BPFCore

/// Why a program cannot be prepared for execution, and where.
public struct LoadError: Error, Sendable, CustomStringConvertible {
    /// Index of the offending instruction, when there is one.
    public var index: Int?
    /// What is wrong.
    public var reason: String

    public init(index: Int?, reason: String) {
        self.index = index
        self.reason = reason
    }

    init(_ error: ValidationError) {
        self.init(index: error.index, reason: error.description)
    }

    public var description: String {
        guard let index else { return reason }
        return reason.hasPrefix("instruction ") ? reason : "instruction \(index): \(reason)"
    }
}

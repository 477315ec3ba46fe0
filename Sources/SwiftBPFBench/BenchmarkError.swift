/// Why the benchmark suite stopped.
public enum BenchmarkError: Error, Sendable, CustomStringConvertible {
    /// A part needs what this machine lacks (`bpf(2)`, clang, the bench folder).
    case unavailable(String)
    /// Two engines, or we and a peer, disagreed about a program's result: no figure is worth that.
    case mismatch(String)
    /// Something the suite runs failed.
    case failed(String)

    public var description: String {
        switch self {
        case let .unavailable(reason): "unavailable: \(reason)"
        case let .mismatch(reason), let .failed(reason): reason
        }
    }
}

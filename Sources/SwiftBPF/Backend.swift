/// Where a loaded object runs: the same object, the same calls, either backend.
public enum Backend: String, Sendable, CaseIterable, CustomStringConvertible {
    /// SwiftBPF's own runtime, on any platform Swift runs on: our verifier proves each program
    /// safe, then it runs JIT-compiled (x86-64, arm64) or interpreted.
    case userspace
    /// The running Linux kernel, through `bpf(2)`: its verifier, its JIT, its hooks. Needs root
    /// or `CAP_BPF`.
    case kernel

    public var description: String { rawValue }
}

import CBPFShims
import BPFPlatform

/// A raw tracepoint program attached with `BPF_RAW_TRACEPOINT_OPEN`, or a BTF-attached one
/// (fentry, fexit, fmod_ret, tp_btf, lsm) attached where it was loaded for; releasing it detaches.
public final class RawTracepointLink: KernelLink {
    private let descriptor: Descriptor
    /// The link's descriptor.
    public var fd: Int32 { descriptor.rawValue }
    public var linkFD: Int32? { fd }
    public let summary: String

    /// Attaches `program` to raw tracepoint `name` (`sys_enter`).
    public init(_ program: KernelProgram, name: String) throws(KernelError) {
        let fd = cbpf_raw_tracepoint_open(name, program.fd)
        guard fd >= 0 else { throw KernelError(command: "BPF_RAW_TRACEPOINT_OPEN (\(name))", errno: -fd) }
        descriptor = Descriptor(adopting: fd)
        summary = "raw tracepoint \(name)"
    }

    /// Attaches a BTF-attached program (loaded by ``KernelObject`` with its target's BTF id) to
    /// that target.
    public init(attaching program: KernelProgram) throws(KernelError) {
        let fd = cbpf_raw_tracepoint_open(nil, program.fd)
        guard fd >= 0 else { throw KernelError(command: "BPF_RAW_TRACEPOINT_OPEN (BTF-attached)", errno: -fd) }
        descriptor = Descriptor(adopting: fd)
        summary = program.section.map { "\($0.split(separator: "/")[0]) \(program.attachTarget ?? "")" } ?? "BTF-attached"
    }
}

/// The calling thread's id, as `bpf_get_current_pid_tgid()`'s low 32 bits report it.
public func currentThreadID() -> Int32 { cbpf_gettid() }

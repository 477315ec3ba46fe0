import CBPFShims
import BPFPlatform

/// A program attached in the kernel, however the kernel joins the two: a bpf_link, a perf
/// event (with a link or through its ioctl), a netlink attachment, a socket option. Releasing
/// the value detaches the program, unless ``persist(at:)`` made the attachment outlive it.
public protocol KernelLink: AnyObject {
    /// What is attached where, as `swiftbpf load` prints it: `tracepoint syscalls/sys_enter_execve`,
    /// `xdp on eth0 (netlink)`.
    var summary: String { get }
    /// The bpf_link's descriptor; nil for attachments the kernel gives no link for.
    var linkFD: Int32? { get }
    /// Makes the attachment outlive this value where the kernel allows: a bpf_link is pinned at
    /// `path`, a netlink attachment is left in place; a perf event's ioctl attachment and a
    /// socket option end with their descriptors, and say so.
    func persist(at path: String) throws(KernelError) -> LinkPersistence
    /// Makes the attachment run `program` from now on, atomically (`BPF_LINK_UPDATE`): every
    /// event runs the old program or the new one, never neither. Links of XDP, tcx, cgroup,
    /// netkit and struct_ops programs can be updated; perf event links and attachments
    /// without a bpf_link cannot.
    func update(program: KernelProgram) throws(KernelError)
}

/// How an attachment outlives the value that made it (``KernelLink/persist(at:)``).
public enum LinkPersistence: Sendable, Equatable {
    /// The bpf_link is pinned at this path: the program stays attached until the pin is removed.
    case pinned(String)
    /// A netlink attachment left on its interface until removed with `ip` or `tc`.
    case leftAttached
    /// The attachment has no link to pin and ends with this process (a perf event attached
    /// through its ioctl on kernels without perf event links; a socket filter ends with its socket).
    case endsWithProcess
}

extension KernelLink {
    public func update(program: KernelProgram) throws(KernelError) {
        guard let linkFD else {
            throw KernelError(command: "BPF_LINK_UPDATE (\(summary)): the attachment has no bpf_link to update", errno: EOPNOTSUPP)
        }
        let r = cbpf_link_update(linkFD, program.fd, -1)
        guard r == 0 else { throw KernelError(command: "BPF_LINK_UPDATE (\(summary) to \(program.name ?? "program"))", errno: -r) }
    }

    public func persist(at path: String) throws(KernelError) -> LinkPersistence {
        guard let linkFD else { return .endsWithProcess }
        try Pinning.pin(linkFD, at: path)
        return .pinned(path)
    }
}

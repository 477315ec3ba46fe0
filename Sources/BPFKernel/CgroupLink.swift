public import BPFCore
import CBPFShims
import BPFPlatform

/// A program attached to a cgroup (v2) with a bpf_link: `cgroup_skb/ingress|egress`, the
/// `cgroup/…` socket, address, device, sysctl and sockopt programs, `sockops`. It runs for the
/// cgroup's processes and its descendants' (several programs may be attached at once), until the
/// value is released or, pinned, the pin is removed. ``KernelLink/update(program:)`` replaces the
/// program atomically.
public final class CgroupLink: KernelLink {
    private let link: Descriptor
    public var linkFD: Int32? { link.rawValue }
    public let summary: String

    /// Attaches `program` to the cgroup whose directory is `path` (in the cgroup v2 hierarchy),
    /// as `attachType` or, when nil, the attach type it was loaded for.
    public init(_ program: KernelProgram, cgroup path: String, attachType: AttachType? = nil) throws(KernelError) {
        guard let type = attachType ?? program.expectedAttachType else {
            throw .cannotAttach(program: program.name ?? "?", reason: "no attach type: the program was loaded without one and none was given")
        }
        let directory = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { throw KernelError(command: "open (cgroup \(path))", errno: errno) }
        defer { close(directory) }
        // link_create's target_fd shares its place with target_ifindex.
        let fd = cbpf_link_create_ifindex(program.fd, UInt32(directory), type.rawValue)
        guard fd >= 0 else { throw KernelError(command: "BPF_LINK_CREATE (\(type) on cgroup \(path))", errno: -fd) }
        link = Descriptor(adopting: fd)
        summary = "cgroup \(type) on \(path)"
    }
}

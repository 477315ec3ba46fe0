import CBPFShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An XDP program attached to a network interface through a bpf_link; releasing the value
/// detaches it.
public final class XDPLink {
    /// The link's descriptor.
    public let fd: Int32
    /// The interface's index.
    public let ifindex: UInt32

    /// Attaches `program` (an XDP program) to `interface` (a name such as `eth0`).
    public init(_ program: KernelProgram, interface: String) throws(KernelError) {
        let index = if_nametoindex(interface)
        guard index != 0 else { throw KernelError(command: "if_nametoindex (\(interface))", errno: errno) }
        let fd = cbpf_link_create_xdp(program.fd, index)
        guard fd >= 0 else { throw KernelError(command: "BPF_LINK_CREATE (XDP on \(interface))", errno: -fd) }
        self.fd = fd
        ifindex = index
    }

    deinit { close(fd) }
}

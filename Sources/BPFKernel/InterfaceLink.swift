import CBPFShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A program attached to a network interface through a bpf_link; releasing the value detaches
/// it. ``XDPLink`` and ``TCLink`` are the two kinds.
public class InterfaceLink {
    /// The link's descriptor.
    public let fd: Int32
    /// The interface's index.
    public let ifindex: UInt32

    init(_ program: KernelProgram, interface: String, attachType: UInt32, what: String) throws(KernelError) {
        let index = if_nametoindex(interface)
        guard index != 0 else { throw KernelError(command: "if_nametoindex (\(interface))", errno: errno) }
        let fd = cbpf_link_create_ifindex(program.fd, index, attachType)
        guard fd >= 0 else { throw KernelError(command: "BPF_LINK_CREATE (\(what) on \(interface))", errno: -fd) }
        self.fd = fd
        ifindex = index
    }

    /// Pins the link at `path`: the program stays attached after this value is released, until
    /// the pin is removed.
    public func pin(at path: String) throws(KernelError) { try Pinning.pin(fd, at: path) }

    deinit { close(fd) }
}

/// An XDP program on an interface (`BPF_XDP`), run on every frame the driver receives.
public final class XDPLink: InterfaceLink {
    /// Attaches `program` (an XDP program) to `interface` (a name such as `eth0`).
    public init(_ program: KernelProgram, interface: String) throws(KernelError) {
        try super.init(program, interface: interface, attachType: 37, what: "XDP")
    }
}

/// A traffic-control classifier (`tc`, `tcx/ingress`, `tcx/egress` sections) on an interface
/// through tcx (`BPF_TCX_INGRESS`/`BPF_TCX_EGRESS`, Linux 6.6 and later): it sees every
/// packet in that direction as a socket buffer and returns `TC_ACT_*`.
public final class TCLink: InterfaceLink {
    /// Which way the packets the program sees travel.
    public enum Direction: Sendable {
        case ingress, egress
    }

    public let direction: Direction

    /// Attaches `program` (a sched_cls program) to `interface` in `direction`.
    public init(_ program: KernelProgram, interface: String, direction: Direction) throws(KernelError) {
        self.direction = direction
        try super.init(program, interface: interface, attachType: direction == .ingress ? 46 : 47,
                       what: "tcx \(direction == .ingress ? "ingress" : "egress")")
    }
}

import CBPFShims
import BPFPlatform

/// How a program is joined to a network interface.
public enum InterfaceAttachment: Sendable, Equatable {
    /// A bpf_link (`BPF_LINK_CREATE`), and rtnetlink where the kernel has no such link — XDP
    /// before Linux 5.9, tcx before 6.6 — as libbpf does.
    case automatic
    /// Only a bpf_link: owned by its descriptor, pinnable.
    case link
    /// Only rtnetlink (`IFLA_XDP`; a clsact qdisc and a direct-action `bpf` filter): the
    /// attachment belongs to the interface, and this value removes it when released.
    case netlink
}

/// A program attached to a network interface; releasing the value detaches it. ``XDPLink`` and
/// ``TCLink`` are the two kinds.
public class InterfaceLink: KernelLink {
    /// The interface's index.
    public let ifindex: UInt32
    /// How the program was attached: ``InterfaceAttachment/link`` or ``InterfaceAttachment/netlink``.
    public let attachment: InterfaceAttachment
    private let link: Descriptor?
    /// The bpf_link's descriptor; nil for a netlink attachment.
    public var fd: Int32? { link?.rawValue }
    public var linkFD: Int32? { fd }
    public let summary: String
    /// Removes a netlink attachment (holding what it needs, such as the program); nil for a link.
    private var detach: (() -> Void)?

    /// Attaches with a bpf_link of `attachType`, or through `netlink` (which attaches and
    /// returns its detacher) as `mode` allows.
    init(
        _ program: KernelProgram, interface: String, attachType: UInt32, what: String, mode: InterfaceAttachment,
        netlink: (_ ifindex: UInt32) throws(KernelError) -> () -> Void
    ) throws(KernelError) {
        let index = if_nametoindex(interface)
        guard index != 0 else { throw KernelError(command: "if_nametoindex (\(interface))", errno: errno) }
        ifindex = index
        let description = what.hasPrefix("XDP") ? "xdp" : what
        if mode != .netlink {
            let fd = cbpf_link_create_ifindex(program.fd, index, attachType)
            // EINVAL: a kernel without this kind of link; anything else is a real refusal.
            if fd >= 0 || mode == .link || -fd != EINVAL {
                guard fd >= 0 else { throw KernelError(command: "BPF_LINK_CREATE (\(what) on \(interface))", errno: -fd) }
                link = Descriptor(adopting: fd)
                attachment = .link
                summary = "\(description) on \(interface)"
                return
            }
        }
        link = nil
        attachment = .netlink
        summary = "\(what.hasPrefix("tcx ") ? "tc " + what.dropFirst(4) : description) on \(interface) (netlink)"
        detach = try netlink(index)
    }

    /// Pins a bpf_link at `path`: the program stays attached after this value is released, until
    /// the pin is removed. A netlink attachment has no link to pin; see ``leaveAttached()``.
    public func pin(at path: String) throws(KernelError) {
        guard let fd else { throw KernelError(command: "pinning a netlink attachment (it has no bpf_link; use leaveAttached())", errno: EINVAL) }
        try Pinning.pin(fd, at: path)
    }

    public func persist(at path: String) throws(KernelError) -> LinkPersistence {
        guard let fd else {
            leaveAttached()
            return .leftAttached
        }
        try Pinning.pin(fd, at: path)
        return .pinned(path)
    }

    /// Keeps a netlink attachment in place after this value is released (it then stays until
    /// removed with `ip link` or `tc`). A bpf_link is kept by pinning it instead.
    public func leaveAttached() { detach = nil }

    deinit { detach?() }
}

/// An XDP program on an interface (`BPF_XDP`), run on every frame the driver receives.
public final class XDPLink: InterfaceLink {
    /// Attaches `program` (an XDP program) to `interface` (a name such as `eth0`). Through
    /// netlink it refuses to replace another program already there (EBUSY), as the link does,
    /// and on release removes only its own.
    public init(_ program: KernelProgram, interface: String, using mode: InterfaceAttachment = .automatic) throws(KernelError) {
        try super.init(program, interface: interface, attachType: 37, what: "XDP", mode: mode) { (index) throws(KernelError) in
            try netlinkCall("RTM_SETLINK IFLA_XDP (attach on \(interface))") {
                cbpf_netlink_xdp(index, program.fd, -1, 1 /* XDP_FLAGS_UPDATE_IF_NOEXIST */, $0, $1)
            }
            return { _ = cbpf_netlink_xdp(index, -1, program.fd, 0, nil, 0) }
        }
    }
}

/// A traffic-control classifier (`tc`, `tcx/ingress`, `tcx/egress` sections) on an interface: it
/// sees every packet in that direction as a socket buffer and returns `TC_ACT_*`. Attached
/// through tcx (`BPF_TCX_INGRESS`/`BPF_TCX_EGRESS`, Linux 6.6 and later), or through netlink as a
/// direct-action `bpf` filter under the interface's clsact qdisc (created when missing).
public final class TCLink: InterfaceLink {
    /// Which way the packets the program sees travel.
    public enum Direction: Sendable {
        case ingress, egress
    }

    public let direction: Direction

    /// Attaches `program` (a sched_cls program) to `interface` in `direction`. Through netlink
    /// the filter takes `priority` (with handle 1), failing with EEXIST where one is there.
    public init(
        _ program: KernelProgram, interface: String, direction: Direction,
        using mode: InterfaceAttachment = .automatic, priority: UInt16 = 1
    ) throws(KernelError) {
        self.direction = direction
        let egress: Int32 = direction == .egress ? 1 : 0
        let hook = direction == .ingress ? "ingress" : "egress"
        try super.init(program, interface: interface, attachType: egress == 1 ? 47 : 46, what: "tcx \(hook)", mode: mode) { (index) throws(KernelError) in
            try netlinkCall("RTM_NEWQDISC clsact (on \(interface))") {
                let r = cbpf_netlink_clsact(index, 1, $0, $1)
                return r == -EEXIST ? 0 : r  // the interface has one already
            }
            try netlinkCall("RTM_NEWTFILTER bpf (\(hook) on \(interface), priority \(priority))") {
                cbpf_netlink_tc_filter(index, egress, 1, priority, program.fd, "swiftbpf", $0, $1)
            }
            return { _ = cbpf_netlink_tc_filter(index, egress, 1, priority, -1, nil, nil, 0) }
        }
    }
}

/// Runs a netlink request, throwing with the kernel's extended-ack text as the log.
private func netlinkCall(_ what: String, _ body: (UnsafeMutablePointer<CChar>, UInt32) -> Int32) throws(KernelError) {
    var message = [CChar](repeating: 0, count: 256)
    let r = body(&message, UInt32(message.count))
    guard r == 0 else {
        let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        throw KernelError(command: what, errno: -r, log: text.isEmpty ? nil : text)
    }
}

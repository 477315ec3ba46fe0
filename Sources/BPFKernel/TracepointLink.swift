import BPFCore
import CBPFShims
import BPFPlatform

/// A program attached to a kernel tracepoint: a perf event for the tracepoint and a bpf_link
/// joining the program to it. Releasing the value detaches the program.
public final class TracepointLink: KernelLink {
    private let perf: Descriptor, link: Descriptor?
    /// The perf event's descriptor.
    public var perfFD: Int32 { perf.rawValue }
    /// The bpf_link's descriptor; nil when attached through the perf event's ioctl.
    public var linkFD: Int32? { link?.rawValue }
    public let summary: String

    /// Attaches `program` to tracepoint `category/name` (`syscalls/sys_enter_execve`), mounting
    /// tracefs at /sys/kernel/tracing first if it is not there.
    public init(_ program: KernelProgram, category: String, name: String, using mode: PerfEventAttachment = .automatic) throws(KernelError) {
        let id = try Self.tracepointID(category: category, name: name)
        summary = "tracepoint \(category)/\(name)"
        (perf, link) = try linkPerfEvent(cbpf_perf_event_open_tracepoint(id), to: program, what: "tracepoint \(category)/\(name)", mode: mode)
    }

    /// The tracepoint's id from tracefs (`events/<category>/<name>/id`).
    static func tracepointID(category: String, name: String) throws(KernelError) -> UInt64 {
        let roots = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        if access(roots[0] + "/events", F_OK) != 0 { _ = cbpf_mount_tracefs() }
        for root in roots {
            if let id = readFirstLine("\(root)/events/\(category)/\(name)/id").flatMap({ UInt64($0) }) { return id }
        }
        throw KernelError(command: "tracefs lookup of \(category)/\(name)", errno: ENOENT)
    }
}

/// How a program is joined to a perf event (tracepoints, kprobes, uprobes).
public enum PerfEventAttachment: Sendable, Equatable {
    /// A bpf_link, and the perf event's ioctl where the kernel has no such link (before Linux
    /// 5.15), as libbpf does.
    case automatic
    /// Only a bpf_link: pinnable.
    case link
    /// Only `PERF_EVENT_IOC_SET_BPF`: the attachment lasts as long as the perf event's descriptor.
    case ioctl
}

/// Joins `program` to the perf event `perf` (a descriptor, or -errno from opening it) with a
/// bpf_link or, as `mode` allows, the perf event's ioctl; returns the perf event and the link
/// (nil for the ioctl), or throws naming `what`, closing the perf event.
func linkPerfEvent(_ perf: Int32, to program: KernelProgram, what: String, mode: PerfEventAttachment) throws(KernelError) -> (
    perf: Descriptor, link: Descriptor?
) {
    guard perf >= 0 else { throw KernelError(command: "perf_event_open (\(what))", errno: -perf) }
    if mode != .ioctl {
        let link = cbpf_link_create_perf_event(program.fd, perf)
        // EINVAL: a kernel without perf event links; anything else is a real refusal.
        if link >= 0 { return (Descriptor(adopting: perf), Descriptor(adopting: link)) }
        if mode == .link || link != -EINVAL {
            close(perf)
            throw KernelError(command: "BPF_LINK_CREATE (\(what))", errno: -link)
        }
    }
    let r = cbpf_perf_event_set_bpf(perf, program.fd)
    guard r == 0 else {
        close(perf)
        throw KernelError(command: "PERF_EVENT_IOC_SET_BPF (\(what))", errno: -r)
    }
    return (Descriptor(adopting: perf), nil)
}

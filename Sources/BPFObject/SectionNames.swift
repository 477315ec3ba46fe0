public import BPFCore

/// Program types from `SEC()` names, the way libbpf names them: an exact name (`xdp`,
/// `socket`) or a prefix and an attach target (`tp/syscalls/sys_enter_execve`).
public enum SectionNames {
    /// How a section name was understood.
    public struct Match: Sendable, Equatable {
        /// The program type.
        public var type: ProgramType
        /// The attach point after the prefix (`syscalls/sys_enter_execve`), if any.
        public var attachTarget: String?

        public init(type: ProgramType, attachTarget: String?) {
            self.type = type
            self.attachTarget = attachTarget
        }
    }

    private static let table: [(String, ProgramType)] = [
        ("socket", .socketFilter), ("sk_reuseport/migrate", .skReuseport), ("sk_reuseport", .skReuseport),
        ("kprobe", .kprobe), ("kretprobe", .kprobe), ("uprobe", .kprobe), ("uretprobe", .kprobe),
        ("uprobe.s", .kprobe), ("uretprobe.s", .kprobe), ("kprobe.multi", .kprobe), ("kretprobe.multi", .kprobe),
        ("uprobe.multi", .kprobe), ("uretprobe.multi", .kprobe), ("ksyscall", .kprobe), ("kretsyscall", .kprobe), ("usdt", .kprobe),
        ("tc", .schedCLS), ("tc/ingress", .schedCLS), ("tc/egress", .schedCLS), ("tcx/ingress", .schedCLS), ("tcx/egress", .schedCLS),
        ("classifier", .schedCLS), ("action", .schedACT), ("netkit/primary", .schedCLS), ("netkit/peer", .schedCLS),
        ("tracepoint", .tracepoint), ("tp", .tracepoint),
        ("raw_tracepoint", .rawTracepoint), ("raw_tp", .rawTracepoint),
        ("raw_tracepoint.w", .rawTracepointWritable), ("raw_tp.w", .rawTracepointWritable),
        ("tp_btf", .tracing), ("fentry", .tracing), ("fmod_ret", .tracing), ("fexit", .tracing),
        ("fentry.s", .tracing), ("fmod_ret.s", .tracing), ("fexit.s", .tracing), ("iter", .tracing), ("iter.s", .tracing),
        ("freplace", .ext), ("lsm", .lsm), ("lsm.s", .lsm), ("lsm_cgroup", .lsm),
        ("xdp", .xdp), ("xdp.frags", .xdp), ("xdp/devmap", .xdp), ("xdp.frags/devmap", .xdp),
        ("xdp/cpumap", .xdp), ("xdp.frags/cpumap", .xdp),
        ("perf_event", .perfEvent), ("lwt_in", .lwtIn), ("lwt_out", .lwtOut), ("lwt_xmit", .lwtXmit),
        ("lwt_seg6local", .lwtSeg6Local), ("sockops", .sockOps), ("sk_skb", .skSKB),
        ("sk_skb/stream_parser", .skSKB), ("sk_skb/stream_verdict", .skSKB), ("sk_skb/verdict", .skSKB), ("sk_msg", .skMsg),
        ("lirc_mode2", .lircMode2), ("flow_dissector", .flowDissector),
        ("cgroup_skb/ingress", .cgroupSKB), ("cgroup_skb/egress", .cgroupSKB), ("cgroup/skb", .cgroupSKB),
        ("cgroup/sock_create", .cgroupSock), ("cgroup/sock_release", .cgroupSock), ("cgroup/sock", .cgroupSock),
        ("cgroup/post_bind4", .cgroupSock), ("cgroup/post_bind6", .cgroupSock), ("cgroup/dev", .cgroupDevice),
        ("cgroup/bind4", .cgroupSockAddr), ("cgroup/bind6", .cgroupSockAddr), ("cgroup/connect4", .cgroupSockAddr),
        ("cgroup/connect6", .cgroupSockAddr), ("cgroup/connect_unix", .cgroupSockAddr), ("cgroup/sendmsg4", .cgroupSockAddr),
        ("cgroup/sendmsg6", .cgroupSockAddr), ("cgroup/sendmsg_unix", .cgroupSockAddr), ("cgroup/recvmsg4", .cgroupSockAddr),
        ("cgroup/recvmsg6", .cgroupSockAddr), ("cgroup/recvmsg_unix", .cgroupSockAddr), ("cgroup/getpeername4", .cgroupSockAddr),
        ("cgroup/getpeername6", .cgroupSockAddr), ("cgroup/getsockname4", .cgroupSockAddr), ("cgroup/getsockname6", .cgroupSockAddr),
        ("cgroup/sysctl", .cgroupSysctl), ("cgroup/getsockopt", .cgroupSockopt), ("cgroup/setsockopt", .cgroupSockopt),
        ("struct_ops", .structOps), ("struct_ops.s", .structOps), ("sk_lookup", .skLookup), ("syscall", .syscall),
    ]

    /// The program type and attach target of section `name`, or nil when libbpf would not
    /// recognize it either.
    public static func match(_ name: String) -> Match? {
        // The longest matching entry wins: `tp_btf/x` over `tp`, `xdp/devmap` over `xdp`.
        var best: (length: Int, match: Match)?
        for (prefix, type) in table where name.hasPrefix(prefix) {
            // `prefix` itself, or `prefix/target`.
            let rest = name.utf8.dropFirst(prefix.utf8.count)
            let match: Match
            if rest.isEmpty {
                match = Match(type: type, attachTarget: nil)
            } else if rest.first == UInt8(ascii: "/") {
                let target = String(Substring(rest.dropFirst()))
                match = Match(type: type, attachTarget: target.isEmpty ? nil : target)
            } else {
                continue
            }
            if prefix.utf8.count > (best?.length ?? -1) { best = (prefix.utf8.count, match) }
        }
        return best?.match
    }
}

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
        /// The `expected_attach_type` libbpf loads the program with (`enum bpf_attach_type`:
        /// `BPF_XDP` for `xdp`, `BPF_CGROUP_INET4_CONNECT` for `cgroup/connect4`, …), which the
        /// kernel requires of some types; 0 where libbpf gives none.
        public var expectedAttachType: UInt32
        /// `prog_flags` the section implies: `BPF_F_XDP_HAS_FRAGS` for `.frags`, `BPF_F_SLEEPABLE`
        /// for the sleepable `.s` kinds.
        public var flags: UInt32

        public init(type: ProgramType, attachTarget: String?, expectedAttachType: UInt32 = 0, flags: UInt32 = 0) {
            self.type = type
            self.attachTarget = attachTarget
            self.expectedAttachType = expectedAttachType
            self.flags = flags
        }
    }

    /// `BPF_F_SLEEPABLE` and `BPF_F_XDP_HAS_FRAGS`.
    static let sleepable: UInt32 = 1 << 4, hasFrags: UInt32 = 1 << 5

    /// Prefix, program type and expected attach type, as libbpf's section table has them.
    private static let table: [(String, ProgramType, UInt32)] = [
        ("socket", .socketFilter, 0), ("sk_reuseport/migrate", .skReuseport, 40), ("sk_reuseport", .skReuseport, 39),
        ("kprobe", .kprobe, 0), ("kretprobe", .kprobe, 0), ("uprobe", .kprobe, 0), ("uretprobe", .kprobe, 0),
        ("uprobe.s", .kprobe, 0), ("uretprobe.s", .kprobe, 0), ("kprobe.multi", .kprobe, 42),
        ("kretprobe.multi", .kprobe, 42), ("uprobe.multi", .kprobe, 48), ("uretprobe.multi", .kprobe, 48),
        ("ksyscall", .kprobe, 0), ("kretsyscall", .kprobe, 0), ("usdt", .kprobe, 0), ("tc", .schedCLS, 0),
        ("tc/ingress", .schedCLS, 46), ("tc/egress", .schedCLS, 47), ("tcx/ingress", .schedCLS, 46),
        ("tcx/egress", .schedCLS, 47), ("classifier", .schedCLS, 0), ("action", .schedACT, 0),
        ("netkit/primary", .schedCLS, 54), ("netkit/peer", .schedCLS, 55), ("tracepoint", .tracepoint, 0),
        ("tp", .tracepoint, 0), ("raw_tracepoint", .rawTracepoint, 0), ("raw_tp", .rawTracepoint, 0),
        ("raw_tracepoint.w", .rawTracepointWritable, 0), ("raw_tp.w", .rawTracepointWritable, 0),
        ("tp_btf", .tracing, 23), ("fentry", .tracing, 24), ("fmod_ret", .tracing, 26), ("fexit", .tracing, 25),
        ("fentry.s", .tracing, 24), ("fmod_ret.s", .tracing, 26), ("fexit.s", .tracing, 25), ("iter", .tracing, 28),
        ("iter.s", .tracing, 28), ("freplace", .ext, 0), ("lsm", .lsm, 27), ("lsm.s", .lsm, 27), ("lsm_cgroup", .lsm, 43),
        ("xdp", .xdp, 37), ("xdp.frags", .xdp, 37), ("xdp/devmap", .xdp, 33), ("xdp.frags/devmap", .xdp, 33),
        ("xdp/cpumap", .xdp, 35), ("xdp.frags/cpumap", .xdp, 35), ("perf_event", .perfEvent, 0), ("lwt_in", .lwtIn, 0),
        ("lwt_out", .lwtOut, 0), ("lwt_xmit", .lwtXmit, 0), ("lwt_seg6local", .lwtSeg6Local, 0),
        ("sockops", .sockOps, 3), ("sk_skb", .skSKB, 0), ("sk_skb/stream_parser", .skSKB, 4),
        ("sk_skb/stream_verdict", .skSKB, 5), ("sk_skb/verdict", .skSKB, 38), ("sk_msg", .skMsg, 7),
        ("lirc_mode2", .lircMode2, 16), ("flow_dissector", .flowDissector, 17), ("cgroup_skb/ingress", .cgroupSKB, 0),
        ("cgroup_skb/egress", .cgroupSKB, 1), ("cgroup/skb", .cgroupSKB, 0), ("cgroup/sock_create", .cgroupSock, 2),
        ("cgroup/sock_release", .cgroupSock, 34), ("cgroup/sock", .cgroupSock, 2),
        ("cgroup/post_bind4", .cgroupSock, 12), ("cgroup/post_bind6", .cgroupSock, 13),
        ("cgroup/dev", .cgroupDevice, 6), ("cgroup/bind4", .cgroupSockAddr, 8), ("cgroup/bind6", .cgroupSockAddr, 9),
        ("cgroup/connect4", .cgroupSockAddr, 10), ("cgroup/connect6", .cgroupSockAddr, 11),
        ("cgroup/connect_unix", .cgroupSockAddr, 49), ("cgroup/sendmsg4", .cgroupSockAddr, 14),
        ("cgroup/sendmsg6", .cgroupSockAddr, 15), ("cgroup/sendmsg_unix", .cgroupSockAddr, 50),
        ("cgroup/recvmsg4", .cgroupSockAddr, 19), ("cgroup/recvmsg6", .cgroupSockAddr, 20),
        ("cgroup/recvmsg_unix", .cgroupSockAddr, 51), ("cgroup/getpeername4", .cgroupSockAddr, 29),
        ("cgroup/getpeername6", .cgroupSockAddr, 30), ("cgroup/getsockname4", .cgroupSockAddr, 31),
        ("cgroup/getsockname6", .cgroupSockAddr, 32), ("cgroup/sysctl", .cgroupSysctl, 18),
        ("cgroup/getsockopt", .cgroupSockopt, 21), ("cgroup/setsockopt", .cgroupSockopt, 22),
        ("struct_ops", .structOps, 0), ("struct_ops.s", .structOps, 0), ("sk_lookup", .skLookup, 36),
        ("syscall", .syscall, 0),
    ]

    /// The program type and attach target of section `name`, or nil when libbpf would not
    /// recognize it either.
    public static func match(_ name: String) -> Match? {
        // The longest matching entry wins: `tp_btf/x` over `tp`, `xdp/devmap` over `xdp`.
        var best: (length: Int, match: Match)?
        for (prefix, type, attachType) in table where name.hasPrefix(prefix) {
            // `prefix` itself, or `prefix/target`.
            let rest = name.utf8.dropFirst(prefix.utf8.count)
            let target: String?
            if rest.isEmpty {
                target = nil
            } else if rest.first == UInt8(ascii: "/") {
                let text = String(Substring(rest.dropFirst()))
                target = text.isEmpty ? nil : text
            } else {
                continue
            }
            let flags = (prefix.hasPrefix("xdp.frags") ? hasFrags : 0) | (prefix.hasSuffix(".s") ? sleepable : 0)
            let match = Match(type: type, attachTarget: target, expectedAttachType: attachType, flags: flags)
            if prefix.utf8.count > (best?.length ?? -1) { best = (prefix.utf8.count, match) }
        }
        return best?.match
    }
}

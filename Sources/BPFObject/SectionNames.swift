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
        /// kernel requires of some types; nil where libbpf gives none.
        public var expectedAttachType: AttachType?
        /// `prog_flags` the section implies: `BPF_F_XDP_HAS_FRAGS` for `.frags`, `BPF_F_SLEEPABLE`
        /// for the sleepable `.s` kinds.
        public var flags: ProgramFlags

        public init(type: ProgramType, attachTarget: String?, expectedAttachType: AttachType? = nil, flags: ProgramFlags = []) {
            self.type = type
            self.attachTarget = attachTarget
            self.expectedAttachType = expectedAttachType
            self.flags = flags
        }
    }

    /// Prefix, program type and expected attach type, as libbpf's section table has them.
    private static let table: [(String, ProgramType, AttachType?)] = [
        ("socket", .socketFilter, nil), ("sk_reuseport/migrate", .skReuseport, .skReuseportSelectOrMigrate), ("sk_reuseport", .skReuseport, .skReuseportSelect),
        ("kprobe", .kprobe, nil), ("kretprobe", .kprobe, nil), ("uprobe", .kprobe, nil), ("uretprobe", .kprobe, nil),
        ("uprobe.s", .kprobe, nil), ("uretprobe.s", .kprobe, nil), ("kprobe.multi", .kprobe, .traceKprobeMulti),
        ("kretprobe.multi", .kprobe, .traceKprobeMulti), ("uprobe.multi", .kprobe, .traceUprobeMulti), ("uretprobe.multi", .kprobe, .traceUprobeMulti),
        ("ksyscall", .kprobe, nil), ("kretsyscall", .kprobe, nil), ("usdt", .kprobe, nil), ("tc", .schedCLS, nil),
        ("tc/ingress", .schedCLS, .tcxIngress), ("tc/egress", .schedCLS, .tcxEgress), ("tcx/ingress", .schedCLS, .tcxIngress),
        ("tcx/egress", .schedCLS, .tcxEgress), ("classifier", .schedCLS, nil), ("action", .schedACT, nil),
        ("netkit/primary", .schedCLS, .netkitPrimary), ("netkit/peer", .schedCLS, .netkitPeer), ("tracepoint", .tracepoint, nil),
        ("tp", .tracepoint, nil), ("raw_tracepoint", .rawTracepoint, nil), ("raw_tp", .rawTracepoint, nil),
        ("raw_tracepoint.w", .rawTracepointWritable, nil), ("raw_tp.w", .rawTracepointWritable, nil),
        ("tp_btf", .tracing, .traceRawTp), ("fentry", .tracing, .traceFentry), ("fmod_ret", .tracing, .modifyReturn), ("fexit", .tracing, .traceFexit),
        ("fentry.s", .tracing, .traceFentry), ("fmod_ret.s", .tracing, .modifyReturn), ("fexit.s", .tracing, .traceFexit), ("iter", .tracing, .traceIter),
        ("iter.s", .tracing, .traceIter), ("freplace", .ext, nil), ("lsm", .lsm, .lsmMac), ("lsm.s", .lsm, .lsmMac), ("lsm_cgroup", .lsm, .lsmCgroup),
        ("xdp", .xdp, .xdp), ("xdp.frags", .xdp, .xdp), ("xdp/devmap", .xdp, .xdpDevmap), ("xdp.frags/devmap", .xdp, .xdpDevmap),
        ("xdp/cpumap", .xdp, .xdpCpumap), ("xdp.frags/cpumap", .xdp, .xdpCpumap), ("perf_event", .perfEvent, nil), ("lwt_in", .lwtIn, nil),
        ("lwt_out", .lwtOut, nil), ("lwt_xmit", .lwtXmit, nil), ("lwt_seg6local", .lwtSeg6Local, nil),
        ("sockops", .sockOps, .cgroupSockOps), ("sk_skb", .skSKB, nil), ("sk_skb/stream_parser", .skSKB, .skSkbStreamParser),
        ("sk_skb/stream_verdict", .skSKB, .skSkbStreamVerdict), ("sk_skb/verdict", .skSKB, .skSkbVerdict), ("sk_msg", .skMsg, .skMsgVerdict),
        ("lirc_mode2", .lircMode2, .lircMode2), ("flow_dissector", .flowDissector, .flowDissector), ("cgroup_skb/ingress", .cgroupSKB, .cgroupInetIngress),
        ("cgroup_skb/egress", .cgroupSKB, .cgroupInetEgress), ("cgroup/skb", .cgroupSKB, nil), ("cgroup/sock_create", .cgroupSock, .cgroupInetSockCreate),
        ("cgroup/sock_release", .cgroupSock, .cgroupInetSockRelease), ("cgroup/sock", .cgroupSock, .cgroupInetSockCreate),
        ("cgroup/post_bind4", .cgroupSock, .cgroupInet4PostBind), ("cgroup/post_bind6", .cgroupSock, .cgroupInet6PostBind),
        ("cgroup/dev", .cgroupDevice, .cgroupDevice), ("cgroup/bind4", .cgroupSockAddr, .cgroupInet4Bind), ("cgroup/bind6", .cgroupSockAddr, .cgroupInet6Bind),
        ("cgroup/connect4", .cgroupSockAddr, .cgroupInet4Connect), ("cgroup/connect6", .cgroupSockAddr, .cgroupInet6Connect),
        ("cgroup/connect_unix", .cgroupSockAddr, .cgroupUnixConnect), ("cgroup/sendmsg4", .cgroupSockAddr, .cgroupUdp4Sendmsg),
        ("cgroup/sendmsg6", .cgroupSockAddr, .cgroupUdp6Sendmsg), ("cgroup/sendmsg_unix", .cgroupSockAddr, .cgroupUnixSendmsg),
        ("cgroup/recvmsg4", .cgroupSockAddr, .cgroupUdp4Recvmsg), ("cgroup/recvmsg6", .cgroupSockAddr, .cgroupUdp6Recvmsg),
        ("cgroup/recvmsg_unix", .cgroupSockAddr, .cgroupUnixRecvmsg), ("cgroup/getpeername4", .cgroupSockAddr, .cgroupInet4Getpeername),
        ("cgroup/getpeername6", .cgroupSockAddr, .cgroupInet6Getpeername), ("cgroup/getsockname4", .cgroupSockAddr, .cgroupInet4Getsockname),
        ("cgroup/getsockname6", .cgroupSockAddr, .cgroupInet6Getsockname), ("cgroup/sysctl", .cgroupSysctl, .cgroupSysctl),
        ("cgroup/getsockopt", .cgroupSockopt, .cgroupGetsockopt), ("cgroup/setsockopt", .cgroupSockopt, .cgroupSetsockopt),
        ("struct_ops", .structOps, nil), ("struct_ops.s", .structOps, nil), ("sk_lookup", .skLookup, .skLookup),
        ("syscall", .syscall, nil),
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
            var flags: ProgramFlags = []
            if prefix.hasPrefix("xdp.frags") { flags.insert(.xdpHasFrags) }
            if prefix.hasSuffix(".s") { flags.insert(.sleepable) }
            let match = Match(type: type, attachTarget: target, expectedAttachType: attachType, flags: flags)
            if prefix.utf8.count > (best?.length ?? -1) { best = (prefix.utf8.count, match) }
        }
        return best?.match
    }
}

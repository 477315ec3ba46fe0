/// Program types, with the kernel's values (`enum bpf_prog_type`). The type decides a
/// program's context, the helpers it may call and where it can be attached.
public enum ProgramType: UInt32, Sendable, CaseIterable {
    case unspec = 0, socketFilter, kprobe, schedCLS, schedACT, tracepoint, xdp, perfEvent
    case cgroupSKB, cgroupSock, lwtIn, lwtOut, lwtXmit, sockOps, skSKB, cgroupDevice, skMsg
    case rawTracepoint, cgroupSockAddr, lwtSeg6Local, lircMode2, skReuseport, flowDissector
    case cgroupSysctl, rawTracepointWritable, cgroupSockopt, tracing, structOps, ext, lsm
    case skLookup, syscall
}

extension ProgramType: CustomStringConvertible {
    /// The kernel's name of the type, as libbpf and bpftool print it (`sched_cls`, `xdp`).
    public var description: String {
        Self.names[Int(rawValue)]
    }

    private static let names = [
        "unspec", "socket_filter", "kprobe", "sched_cls", "sched_act", "tracepoint", "xdp", "perf_event",
        "cgroup_skb", "cgroup_sock", "lwt_in", "lwt_out", "lwt_xmit", "sock_ops", "sk_skb", "cgroup_device", "sk_msg",
        "raw_tracepoint", "cgroup_sock_addr", "lwt_seg6local", "lirc_mode2", "sk_reuseport", "flow_dissector",
        "cgroup_sysctl", "raw_tracepoint_writable", "cgroup_sockopt", "tracing", "struct_ops", "ext", "lsm",
        "sk_lookup", "syscall",
    ]
}

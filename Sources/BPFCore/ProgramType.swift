/// Program types, with the kernel's values (`enum bpf_prog_type`). The type decides a
/// program's context, the helpers it may call and where it can be attached.
public enum ProgramType: UInt32, Sendable, CaseIterable {
    case unspec = 0, socketFilter, kprobe, schedCLS, schedACT, tracepoint, xdp, perfEvent
    case cgroupSKB, cgroupSock, lwtIn, lwtOut, lwtXmit, sockOps, skSKB, cgroupDevice, skMsg
    case rawTracepoint, cgroupSockAddr, lwtSeg6Local, lircMode2, skReuseport, flowDissector
    case cgroupSysctl, rawTracepointWritable, cgroupSockopt, tracing, structOps, ext, lsm
    case skLookup, syscall
}

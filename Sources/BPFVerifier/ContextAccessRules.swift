package import BPFCore

/// The kernel's own answer to "may a program of this type load or store `size` bytes of its
/// context at `offset`": each program type's `is_valid_access` (`net/core/filter.c`,
/// `kernel/trace/bpf_trace.c`), field by field, so that a context access passes here exactly
/// when it passes the kernel's verifier.
package enum ContextAccessRules: Sendable, Equatable {
    /// `xdp_is_valid_access`: `struct xdp_md`, read-only u32 fields.
    case xdp
    /// `sk_filter_is_valid_access`.
    case socketFilter
    /// `tc_cls_act_is_valid_access`.
    case tc
    /// `cg_skb_is_valid_access` (for a loader with CAP_BPF).
    case cgroupSKB
    /// `sk_skb_is_valid_access`: stream parsers and verdicts.
    case skSKB
    /// `lwt_is_valid_access`: lightweight tunnels (in, out, xmit, seg6local).
    case lwt
    /// `flow_dissector_is_valid_access`: the packet, read only.
    case flowDissector
    /// `sock_filter_is_valid_access`: `struct bpf_sock` of a cgroup socket program, by its
    /// attach type.
    case cgroupSock(AttachType?)
    /// `sock_addr_is_valid_access`: `struct bpf_sock_addr`, by its attach type.
    case sockAddr(AttachType?)
    /// `sock_ops_is_valid_access`: `struct bpf_sock_ops`.
    case sockOps
    /// `sk_msg_is_valid_access`: `struct sk_msg_md`.
    case skMsg
    /// `sk_lookup_is_valid_access`: `struct bpf_sk_lookup`.
    case skLookup
    /// `cg_sockopt_is_valid_access`: `struct bpf_sockopt`, by its attach type.
    case sockopt(AttachType?)
    /// `sysctl_is_valid_access`: `struct bpf_sysctl`.
    case sysctl
    /// `cgroup_dev_is_valid_access`: `struct bpf_cgroup_dev_ctx`.
    case cgroupDevice
    /// `tp_prog_is_valid_access`: a tracepoint record past its common header.
    case tracepoint
    /// `raw_tp_prog_is_valid_access`: up to 12 u64 arguments.
    case rawTracepoint
    /// `kprobe_prog_is_valid_access`: `struct pt_regs`.
    case kprobe
    /// `pe_prog_is_valid_access`: `struct bpf_perf_event_data` (the registers, then
    /// `sample_period` and `addr`).
    case perfEvent
    /// `tracing_prog_is_valid_access` and `btf_ctx_access`: the attach target's arguments.
    case tracing([ContextLayout.TracingArgument])

    /// What a permitted load gives: nil for a number, else the packet pointer it loads.
    /// - Returns: `.refused` when the kernel refuses the access.
    func check(offset off: Int64, size: Int, write: Bool, signExtending: Bool) -> Verdict {
        switch self {
        case .xdp: return Self.xdp(off, size, write: write, signExtending: signExtending)
        case .socketFilter, .tc, .cgroupSKB, .skSKB, .lwt: return Self.socketBuffer(self, off, size, write: write, signExtending: signExtending)
        case .flowDissector:
            guard off >= 0, off < SKB.size, off % Int64(size) == 0, !write else { return .refused }
            // flow_keys (PTR_TO_FLOW_KEYS) is not modelled.
            guard SKB.data.contains(off) || SKB.dataEnd.contains(off), size == 4, !signExtending else { return .refused }
            return .pointer(SKB.data.contains(off) ? .packet : .packetEnd)
        case .cgroupSock, .sockAddr, .sockOps, .skMsg, .skLookup, .sockopt, .sysctl, .cgroupDevice:
            return socketLevel(off, size, write: write, signExtending: signExtending)
        case .tracepoint:
            // PERF_MAX_TRACE_SIZE: 8192; the first 8 bytes are the common header.
            return off >= 8 && off < 8192 && !write && off % Int64(size) == 0 ? .number : .refused
        case .rawTracepoint:
            return off >= 0 && off < 96 && !write && off % Int64(size) == 0 ? .number : .refused
        case .kprobe:
            return off >= 0 && off + Int64(size) <= 168 && !write && off % Int64(size) == 0 ? .number : .refused
        case .perfEvent:
            // Registers only whole (8 bytes); sample_period and addr (168, 176) narrow too.
            guard off >= 0, off < 184, !write, off % Int64(size) == 0, off >= 168 || size == 8 else { return .refused }
            return .number
        case let .tracing(arguments):
            // MAX_BPF_FUNC_ARGS u64s, read only, aligned; an argument starts at a multiple of 8.
            guard off >= 0, off < 96, !write, off % Int64(size) == 0, off % 8 == 0, Int(off / 8) < arguments.count else { return .refused }
            switch arguments[Int(off / 8)] {
            case .inaccessible: return .refused
            case .number: return .number
            case .opaquePointer: return size == 8 ? .number : .refused
            case .returnValue(let range): return .pointer(.int32(in: range))
            case let .objectPointer(type, nullable):
                return size == 8 && !signExtending ? .pointer(.btfPointer(type: type, nullable: nullable)) : .refused
            }
        }
    }

    enum Verdict: Equatable {
        case refused, number
        case pointer(ContextLayout.FieldKind)
    }

    private static func xdp(_ off: Int64, _ size: Int, write: Bool, signExtending: Bool) -> Verdict {
        // egress_ifindex (20) is only for devmap programs; writes only for offloaded ones.
        if write || off == 20 { return .refused }
        guard off >= 0, off < 24, off % Int64(size) == 0, size == 4 else { return .refused }
        switch off {
        case 0: return signExtending ? .refused : .pointer(.packet)
        case 4: return signExtending ? .refused : .pointer(.packetEnd)
        case 8: return signExtending ? .refused : .pointer(.packetMeta)
        default: return .number
        }
    }

    /// `struct __sk_buff`'s field offsets (UAPI).
    private enum SKB {
        static let mark: ClosedRange<Int64> = 8...11, queueMapping: ClosedRange<Int64> = 12...15
        static let priority: ClosedRange<Int64> = 32...35, tcIndex: ClosedRange<Int64> = 44...47
        static let cb: ClosedRange<Int64> = 48...67, hash: ClosedRange<Int64> = 68...71
        static let tcClassid: ClosedRange<Int64> = 72...75, data: ClosedRange<Int64> = 76...79
        static let dataEnd: ClosedRange<Int64> = 80...83
        static let family: ClosedRange<Int64> = 88...91, remoteIP4: ClosedRange<Int64> = 92...95
        static let localIP4: ClosedRange<Int64> = 96...99, remoteIP6: ClosedRange<Int64> = 100...115
        static let localIP6: ClosedRange<Int64> = 116...131, localPort: ClosedRange<Int64> = 136...139
        static let dataMeta: ClosedRange<Int64> = 140...143, flowKeys: ClosedRange<Int64> = 144...151
        static let tstamp: ClosedRange<Int64> = 152...159, wireLen: ClosedRange<Int64> = 160...163
        static let sk: ClosedRange<Int64> = 168...175
        static let tstampType: Int64 = 180, padding: ClosedRange<Int64> = 181...183
        static let hwtstamp: ClosedRange<Int64> = 184...191
        static let size: Int64 = 192
    }

    private static func socketBuffer(_ rules: ContextAccessRules, _ off: Int64, _ size: Int, write: Bool, signExtending: Bool) -> Verdict {
        var pointer: ContextLayout.FieldKind?
        switch rules {
        case .socketFilter:
            for refused in [
                SKB.tcClassid, SKB.data, SKB.dataMeta, SKB.dataEnd, SKB.family.lowerBound...SKB.localPort.upperBound,
                SKB.tstamp, SKB.wireLen, SKB.hwtstamp,
            ] where refused.contains(off) { return .refused }
            if write, !SKB.cb.contains(off) { return .refused }
        case .skSKB:
            for refused in [SKB.tcClassid, SKB.dataMeta, SKB.tstamp, SKB.wireLen, SKB.hwtstamp, SKB.mark] where refused.contains(off) { return .refused }
            if write, !(SKB.tcIndex.contains(off) || SKB.priority.contains(off)) { return .refused }
            if SKB.data.contains(off) { pointer = .packet }
            if SKB.dataEnd.contains(off) { pointer = .packetEnd }
        case .lwt:
            for refused in [
                SKB.tcClassid, SKB.family.lowerBound...SKB.localPort.upperBound, SKB.dataMeta, SKB.tstamp, SKB.wireLen, SKB.hwtstamp,
            ] where refused.contains(off) { return .refused }
            if write, !(SKB.mark.contains(off) || SKB.priority.contains(off) || SKB.cb.contains(off)) { return .refused }
            if SKB.data.contains(off) { pointer = .packet }
            if SKB.dataEnd.contains(off) { pointer = .packetEnd }
        case .cgroupSKB:
            for refused in [SKB.tcClassid, SKB.dataMeta, SKB.wireLen] where refused.contains(off) { return .refused }
            if write, !(SKB.mark.contains(off) || SKB.priority.contains(off) || SKB.cb.contains(off) || SKB.tstamp.contains(off)) { return .refused }
            if SKB.data.contains(off) { pointer = .packet }
            if SKB.dataEnd.contains(off) { pointer = .packetEnd }
        default:  // tc
            if write {
                let writable = [SKB.mark, SKB.tcIndex, SKB.priority, SKB.tcClassid, SKB.cb, SKB.tstamp, SKB.queueMapping]
                if !writable.contains(where: { $0.contains(off) }) { return .refused }
            }
            if SKB.data.contains(off) { pointer = .packet }
            if SKB.dataMeta.contains(off) { pointer = .packetMeta }
            if SKB.dataEnd.contains(off) { pointer = .packetEnd }
            if (SKB.family.lowerBound...SKB.localPort.upperBound).contains(off) { return .refused }
            if off == SKB.tstampType { return size == 1 ? .number : .refused }
        }
        // bpf_skb_is_valid_access
        guard off >= 0, off < SKB.size, off % Int64(size) == 0 else { return .refused }
        switch off {
        case SKB.cb:
            if off + Int64(size) > SKB.cb.upperBound + 1 { return .refused }
        case SKB.data, SKB.dataMeta, SKB.dataEnd:
            if signExtending || size != 4 { return .refused }
        case SKB.remoteIP6, SKB.localIP6, SKB.remoteIP4, SKB.localIP4:
            if size != 4 { return .refused }
        case SKB.flowKeys:
            return .refused
        case SKB.hwtstamp:
            if write || size != 8 { return .refused }
        case SKB.tstamp:
            if size != 8 { return .refused }
        case SKB.sk:
            // A socket pointer (PTR_TO_SOCK_COMMON_OR_NULL), which SwiftBPF does not model.
            return .refused
        case SKB.tstampType, SKB.padding:
            return .refused
        default:
            // Other u32 fields: whole-word stores, loads of 1, 2 or 4 bytes.
            if write ? size != 4 : size > 4 { return .refused }
        }
        return pointer.map { .pointer($0) } ?? .number
    }
}

import BPFCore

/// What the verifier needs to know of a helper beyond its arguments (``HelperPrototypes``): what
/// it returns, which program types may call it, and which maps it accepts — the kernel's
/// `bpf_func_proto` and `check_map_func_compatibility`, for the helpers SwiftBPF provides.
enum HelperRules {
    enum Result {
        /// Any number.
        case scalar
        /// Nothing: r0 is not readable after the call.
        case none
        /// A value of the map in r1, or NULL.
        case mapValueOrNull
        /// A new ring buffer record of the size in r2, or NULL; the program must submit or
        /// discard it.
        case recordOrNull
        /// A trusted kernel object (`PTR_TO_BTF_ID | PTR_TRUSTED`): the current task.
        case trustedObject
    }

    static func result(of id: Int32) -> Result {
        switch HelperID(rawValue: id) {
        case .mapLookupElem: .mapValueOrNull
        case .ringbufReserve: .recordOrNull
        case .getCurrentTaskBtf: .trustedObject
        case .tailCall, .spinLock, .spinUnlock, .ringbufSubmit, .ringbufDiscard: .none
        default: .scalar
        }
    }

    /// Whether helper `id` may move or resize the packet (`bpf_helper_changes_pkt_data`):
    /// xdp_adjust_head, xdp_adjust_tail.
    static func changesPacketData(_ id: Int32) -> Bool { [HelperID.xdpAdjustHead, .xdpAdjustTail].contains(HelperID(rawValue: id)) }

    /// Whether a program of `type` may call helper `id` (what this kernel's `get_func_proto`
    /// answers for these helpers).
    static func isAllowed(_ id: Int32, in type: ProgramType) -> Bool {
        let tracing: [ProgramType] = [.kprobe, .tracepoint, .rawTracepoint, .rawTracepointWritable, .perfEvent, .tracing, .lsm]
        switch HelperID(rawValue: id) {
        case .probeRead, .probeReadStr: return tracing.contains(type)
        case .redirect, .csumDiff: return [.schedCLS, .schedACT, .xdp].contains(type)
        case .xdpAdjustHead, .xdpAdjustTail: return type == .xdp
        case .ktimeGetCoarseNs, .spinLock, .spinUnlock: return !tracing.contains(type)
        // bpf_tracing_func_proto's: offered to tracing programs (others get variants of their own).
        case .perfEventOutput, .getStackid, .getStack, .currentTaskUnderCgroup, .getCurrentTask, .getCurrentCgroupId, .getNsCurrentPidTgid,
            .getAttachCookie, .getCurrentTaskBtf:
            return tracing.contains(type)
        case .getFuncIp: return [.kprobe, .tracing].contains(type)
        case .skbLoadBytes: return [.socketFilter, .schedCLS, .schedACT, .cgroupSKB].contains(type)
        default: return true
        }
    }

    /// Map types that only some helpers accept, and those helpers.
    private static let exclusiveMaps: [MapType: Set<HelperID>] = [
        .progArray: [.tailCall],
        .queue: [.mapPushElem, .mapPopElem, .mapPeekElem],
        .stack: [.mapPushElem, .mapPopElem, .mapPeekElem],
        .ringbuf: [.ringbufOutput, .ringbufReserve, .ringbufQuery],
        .perfEventArray: [.perfEventOutput],
        .stackTrace: [.getStackid],
        .cgroupArray: [.currentTaskUnderCgroup, .skbUnderCgroup],
    ]
    /// Helpers that only some map types satisfy.
    private static let exclusiveHelpers: [HelperID: Set<MapType>] = [
        .tailCall: [.progArray],
        .mapPushElem: [.queue, .stack], .mapPopElem: [.queue, .stack], .mapPeekElem: [.queue, .stack],
        .ringbufOutput: [.ringbuf], .ringbufReserve: [.ringbuf], .ringbufQuery: [.ringbuf],
        .perfEventOutput: [.perfEventArray], .getStackid: [.stackTrace], .currentTaskUnderCgroup: [.cgroupArray],
    ]

    /// Whether helper `id` may be passed a map of `mapType`.
    static func accepts(_ id: Int32, mapType: MapType) -> Bool {
        let helper = HelperID(rawValue: id)
        if let helpers = exclusiveMaps[mapType], !helpers.contains(helper) { return false }
        if let types = exclusiveHelpers[helper], !types.contains(mapType) { return false }
        return true
    }
}

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
    }

    static func result(of id: Int32) -> Result {
        switch id {
        case 1: .mapValueOrNull
        case 131: .recordOrNull
        case 12, 93, 94, 132, 133: .none
        default: .scalar
        }
    }

    /// Whether helper `id` may move or resize the packet (`bpf_helper_changes_pkt_data`):
    /// xdp_adjust_head, xdp_adjust_tail.
    static func changesPacketData(_ id: Int32) -> Bool { id == 44 || id == 65 }

    /// Whether a program of `type` may call helper `id` (what this kernel's `get_func_proto`
    /// answers for these helpers).
    static func isAllowed(_ id: Int32, in type: ProgramType) -> Bool {
        let tracing: [ProgramType] = [.kprobe, .tracepoint, .rawTracepoint, .rawTracepointWritable, .perfEvent, .tracing, .lsm]
        switch id {
        case 4, 45: return tracing.contains(type)                          // probe_read, probe_read_str
        case 23, 28: return [.schedCLS, .schedACT, .xdp].contains(type)    // redirect, csum_diff
        case 44, 65: return type == .xdp                                   // xdp_adjust_head/tail
        case 160: return !tracing.contains(type)                           // ktime_get_coarse_ns
        case 93, 94: return !tracing.contains(type)                        // spin_lock, spin_unlock
        default: return true
        }
    }

    /// Map types (the kernel's numbers) that only some helpers accept, and those helpers.
    private static let exclusiveMaps: [UInt32: Set<Int32>] = [
        3: [12],                 // prog array: tail_call
        22: [87, 88, 89],        // queue
        23: [87, 88, 89],        // stack
        27: [130, 131, 134],     // ring buffer
        4: [],                   // perf event array: perf_event_output, not provided
    ]
    /// Helpers that only some map types satisfy.
    private static let exclusiveHelpers: [Int32: Set<UInt32>] = [
        12: [3], 87: [22, 23], 88: [22, 23], 89: [22, 23], 130: [27], 131: [27], 134: [27],
    ]

    /// Whether helper `id` may be passed a map of `mapType`.
    static func accepts(_ id: Int32, mapType: UInt32) -> Bool {
        if let helpers = exclusiveMaps[mapType], !helpers.contains(id) { return false }
        if let types = exclusiveHelpers[id], !types.contains(mapType) { return false }
        return true
    }
}

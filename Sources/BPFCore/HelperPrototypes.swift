/// What a helper argument must be, as the kernel's `bpf_func_proto` says: the verifier proves
/// these statically; the interpreter's checked mode tests them before each call.
public enum HelperArgument: Sendable, Equatable {
    /// Any value.
    case anything
    /// A map the program uses.
    case map
    /// Memory holding a key of the map in r1.
    case mapKey
    /// Memory holding a value of the map in r1.
    case mapValue
    /// Memory the helper fills with a value of the map in r1.
    case writableMapValue
    /// Memory the helper reads, as many bytes as argument `size` (1-based register) says.
    case readable(size: Int)
    /// Memory the helper writes, as many bytes as argument `size` says.
    case writable(size: Int)
    /// Memory the helper reads, or NULL (then with a size of zero).
    case readableOrNull(size: Int)
    /// The size of the memory argument before it: a bounded number, never negative, and more
    /// than zero unless `zeroAllowed` (`ARG_CONST_SIZE`, `ARG_CONST_SIZE_OR_ZERO`).
    case size(zeroAllowed: Bool)
    /// A size that must be a known constant: what the helper allocates
    /// (`ARG_CONST_ALLOC_SIZE_OR_ZERO`).
    case allocationSize
    /// A ring buffer record the program reserved, handed back (`ARG_PTR_TO_RINGBUF_MEM`).
    case record
    /// The program's context.
    case context
    /// The `struct bpf_spin_lock` field of a map value: 4 bytes, written by the helper.
    case spinLock
}

/// Argument kinds of the helpers the userspace runtime provides, by kernel helper id.
public enum HelperPrototypes {
    /// The arguments of helper `id` (r1 first), or nil for a helper with no prototype here.
    public static func arguments(of id: Int32) -> [HelperArgument]? {
        switch HelperID(rawValue: id) {
        case .mapLookupElem, .mapDeleteElem: [.map, .mapKey]
        case .mapUpdateElem: [.map, .mapKey, .mapValue, .anything]
        case .probeRead, .probeReadUser, .probeReadKernel, .probeReadStr, .probeReadUserStr, .probeReadKernelStr:
            [.writable(size: 2), .size(zeroAllowed: true), .anything]
        case .tailCall: [.context, .map, .anything]
        case .mapPushElem: [.map, .mapValue, .anything]
        case .mapPopElem, .mapPeekElem: [.map, .writableMapValue]
        case .tracePrintk: [.readable(size: 2), .size(zeroAllowed: false)]  // r3-r5 as the format needs
        case .traceVprintk: [.readable(size: 2), .size(zeroAllowed: false), .readableOrNull(size: 4), .size(zeroAllowed: true)]
        case .ktimeGetNs, .getPrandomU32, .getSmpProcessorId, .getCurrentPidTgid, .getCurrentUidGid, .ktimeGetBootNs, .ktimeGetCoarseNs: []
        case .getCurrentComm: [.writable(size: 2), .size(zeroAllowed: false)]
        case .redirect: [.anything, .anything]
        case .csumDiff: [.readableOrNull(size: 2), .size(zeroAllowed: true), .readableOrNull(size: 4), .size(zeroAllowed: true), .anything]
        case .xdpAdjustHead, .xdpAdjustTail: [.context, .anything]
        case .ringbufOutput: [.map, .readable(size: 3), .size(zeroAllowed: true), .anything]
        case .ringbufReserve: [.map, .allocationSize, .anything]
        case .ringbufSubmit, .ringbufDiscard: [.record, .anything]
        case .ringbufQuery: [.map, .anything]
        case .spinLock, .spinUnlock: [.spinLock]
        // Tracing: the verifier knows them; the userspace runtime provides none of them.
        case .perfEventOutput: [.context, .map, .anything, .readable(size: 5), .size(zeroAllowed: true)]
        case .getStackid: [.context, .map, .anything]
        case .getStack: [.context, .writable(size: 3), .size(zeroAllowed: true), .anything]
        case .currentTaskUnderCgroup: [.map, .anything]
        case .getCurrentTask, .getCurrentCgroupId, .getCurrentTaskBtf: []
        case .getAttachCookie, .getFuncIp: [.context]
        case .getNsCurrentPidTgid: [.anything, .anything, .writable(size: 4), .size(zeroAllowed: false)]
        case .skbLoadBytes: [.context, .anything, .writable(size: 4), .size(zeroAllowed: false)]
        default: nil
        }
    }

    /// Whether helper `id` may be passed pointers into the packet (the kernel's
    /// `bpf_func_proto.pkt_access`): map_lookup/update/delete_elem, map_push_elem, csum_diff.
    public static func acceptsPacketPointers(_ id: Int32) -> Bool {
        [HelperID.mapLookupElem, .mapUpdateElem, .mapDeleteElem, .mapPushElem, .csumDiff].contains(HelperID(rawValue: id))
    }
}

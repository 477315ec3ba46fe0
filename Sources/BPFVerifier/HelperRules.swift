import BPFCore

/// What the verifier needs to know of a helper beyond its arguments (``HelperPrototypes``): what
/// it returns, which program types may call it (``HelperSignature/isAvailable(_:to:)``), and
/// which maps it accepts — the kernel's `bpf_func_proto`, `get_func_proto` and
/// `check_map_func_compatibility`.
enum HelperRules {
    enum Result {
        /// Any number.
        case scalar
        /// Nothing: r0 is not readable after the call.
        case none
        /// A value of the map in r1, or NULL when `nullable`.
        case mapValue(nullable: Bool)
        /// A new ring buffer record of the size in r2, or NULL; the program must submit or
        /// discard it.
        case recordOrNull
        /// A trusted kernel object (`PTR_TO_BTF_ID | PTR_TRUSTED`): the current task.
        case trustedObject
    }

    /// What helper `id` leaves in r0, or nil where it returns a type this verifier does not
    /// model (sockets, kernel objects found by BTF id, per-CPU pointers).
    static func result(of signature: HelperSignature, id: HelperID) -> Result? {
        let r = signature.result
        switch r.base {
        case .integer: return .scalar
        case .void: return Result.none
        case .pointerToMapValue: return .mapValue(nullable: r.flags.contains(.maybeNull))
        case .pointerToMem where r.flags.contains(.ringBuffer) && id == .ringbufReserve: return .recordOrNull
        case .pointerToBtfId where r.flags.contains(.trusted) && id == .getCurrentTaskBtf: return .trustedObject
        default: return nil
        }
    }

    /// Whether helper `id` may move or resize the packet (`bpf_helper_changes_pkt_data`): every
    /// packet pointer is invalid after the call.
    static func changesPacketData(_ id: Int32) -> Bool { packetChangers.contains(HelperID(rawValue: id)) }

    private static let packetChangers: Set<HelperID> = [
        .cloneRedirect, .l3CsumReplace, .l4CsumReplace, .lwtPushEncap, .lwtSeg6Action, .lwtSeg6AdjustSrh, .lwtSeg6StoreBytes,
        .msgPopData, .msgPullData, .msgPushData, .skbAdjustRoom, .skbChangeHead, .skbChangeProto, .skbChangeTail, .skbPullData,
        .skbStoreBytes, .skbVlanPop, .skbVlanPush, .storeHdrOpt, .xdpAdjustHead, .xdpAdjustMeta, .xdpAdjustTail,
    ]

    /// Map types that only some helpers accept, and those helpers (the map's side of
    /// `check_map_func_compatibility`). Sockmap and sockhash updates from programs
    /// (`may_update_sockmap`) are not modelled: they are refused.
    private static let exclusiveMaps: [MapType: Set<HelperID>] = [
        .progArray: [.tailCall],
        .perfEventArray: [.perfEventRead, .perfEventOutput, .skbOutput, .perfEventReadValue, .xdpOutput],
        .ringbuf: [.ringbufOutput, .ringbufReserve, .ringbufQuery, .ringbufReserveDynptr, .ringbufSubmitDynptr, .ringbufDiscardDynptr],
        .userRingbuf: [.userRingbufDrain],
        .stackTrace: [.getStackid],
        .cgroupArray: [.skbUnderCgroup, .currentTaskUnderCgroup],
        .cgroupStorage: [.getLocalStorage], .percpuCgroupStorage: [.getLocalStorage],
        .devmap: [.redirectMap, .mapLookupElem], .devmapHash: [.redirectMap, .mapLookupElem],
        .cpumap: [.redirectMap],
        .xskmap: [.redirectMap, .mapLookupElem],
        .arrayOfMaps: [.mapLookupElem], .hashOfMaps: [.mapLookupElem],
        .sockmap: [.skRedirectMap, .sockMapUpdate, .msgRedirectMap, .skSelectReuseport, .mapLookupElem],
        .sockhash: [.skRedirectHash, .sockHashUpdate, .msgRedirectHash, .skSelectReuseport, .mapLookupElem],
        .reuseportSockarray: [.skSelectReuseport],
        .queue: [.mapPeekElem, .mapPopElem, .mapPushElem], .stack: [.mapPeekElem, .mapPopElem, .mapPushElem],
        .skStorage: [.skStorageGet, .skStorageDelete, .kptrXchg],
        .inodeStorage: [.inodeStorageGet, .inodeStorageDelete, .kptrXchg],
        .taskStorage: [.taskStorageGet, .taskStorageDelete, .kptrXchg],
        .cgrpStorage: [.cgrpStorageGet, .cgrpStorageDelete, .kptrXchg],
        .bloomFilter: [.mapPeekElem, .mapPushElem],
    ]

    /// Helpers that only some map types satisfy (the helper's side).
    private static let exclusiveHelpers: [HelperID: Set<MapType>] = {
        var table: [HelperID: Set<MapType>] = [.tailCall: [.progArray], .userRingbufDrain: [.userRingbuf], .getStackid: [.stackTrace]]
        for helper in [HelperID.perfEventRead, .perfEventOutput, .perfEventReadValue, .skbOutput, .xdpOutput] { table[helper] = [.perfEventArray] }
        for helper in [HelperID.ringbufOutput, .ringbufReserve, .ringbufQuery, .ringbufReserveDynptr, .ringbufSubmitDynptr, .ringbufDiscardDynptr] {
            table[helper] = [.ringbuf]
        }
        for helper in [HelperID.currentTaskUnderCgroup, .skbUnderCgroup] { table[helper] = [.cgroupArray] }
        table[.redirectMap] = [.devmap, .devmapHash, .cpumap, .xskmap]
        for helper in [HelperID.skRedirectMap, .msgRedirectMap, .sockMapUpdate] { table[helper] = [.sockmap] }
        for helper in [HelperID.skRedirectHash, .msgRedirectHash, .sockHashUpdate] { table[helper] = [.sockhash] }
        table[.getLocalStorage] = [.cgroupStorage, .percpuCgroupStorage]
        table[.skSelectReuseport] = [.reuseportSockarray, .sockmap, .sockhash]
        table[.mapPopElem] = [.queue, .stack]
        table[.mapPeekElem] = [.queue, .stack, .bloomFilter]
        table[.mapPushElem] = [.queue, .stack, .bloomFilter]
        table[.mapLookupPercpuElem] = [.percpuArray, .percpuHash, .lruPercpuHash]
        for helper in [HelperID.skStorageGet, .skStorageDelete] { table[helper] = [.skStorage] }
        for helper in [HelperID.inodeStorageGet, .inodeStorageDelete] { table[helper] = [.inodeStorage] }
        for helper in [HelperID.taskStorageGet, .taskStorageDelete] { table[helper] = [.taskStorage] }
        for helper in [HelperID.cgrpStorageGet, .cgrpStorageDelete] { table[helper] = [.cgrpStorage] }
        return table
    }()

    /// Whether helper `id` may be passed a map of `mapType`.
    static func accepts(_ id: Int32, mapType: MapType) -> Bool {
        let helper = HelperID(rawValue: id)
        if let helpers = exclusiveMaps[mapType], !helpers.contains(helper) { return false }
        if let types = exclusiveHelpers[helper], !types.contains(mapType) { return false }
        return true
    }

    /// Map types whose values a lookup does not give as plain memory (maps of maps give the
    /// inner map, sockmap and sockhash a socket): this verifier refuses such lookups.
    static let lookupGivesObject: Set<MapType> = [.sockmap, .sockhash, .xskmap]
}

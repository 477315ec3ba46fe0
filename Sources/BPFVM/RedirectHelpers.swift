public import BPFCore
import BPFMaps

/// A redirect as the helpers record it, allocation-free: what ``RedirectTarget`` is made of
/// after the run.
public struct RedirectRecord: Sendable {
    public enum Kind: UInt8, Sendable { case none, interface, mapEntry, broadcast }
    public var kind = Kind.none
    /// The interface, or the map entry's key.
    public var index: UInt32 = 0
    public var flags: UInt64 = 0
    /// The ``BPFMap`` redirected through.
    public var map: UInt64 = 0

    public init() {}
}

/// `bpf_redirect` and `bpf_redirect_map`: the target is recorded in the run's helper context
/// and the program gets the kernel's return value.
enum RedirectHelpers {
    /// `BPF_F_INGRESS`, `BPF_F_BROADCAST`, `BPF_F_EXCLUDE_INGRESS`.
    static let ingress: UInt64 = 1, broadcast: UInt64 = 8, excludeIngress: UInt64 = 16
    /// XDP_ABORTED … XDP_TX: what `bpf_redirect_map`'s low flag bits return when the key has
    /// no entry.
    static let actionMask: UInt64 = 3
    static let xdpAborted: UInt64 = 0, xdpRedirect: UInt64 = 4
    static let tcActShot: UInt64 = 2, tcActRedirect: UInt64 = 7

    /// XDP's `bpf_redirect(ifindex, flags)`: `XDP_REDIRECT`, or `XDP_ABORTED` for any flag.
    static let xdpRedirectToInterface: HelperFunction = { ifindex, flags, _, _, _, context in
        guard flags == 0 else { return xdpAborted }
        HelperContext.at(context).pointee.redirect = record(.interface, index: UInt32(truncatingIfNeeded: ifindex), flags: flags)
        return xdpRedirect
    }

    /// tc's `bpf_redirect(ifindex, flags)`: `TC_ACT_REDIRECT`, or `TC_ACT_SHOT` for flags other
    /// than `BPF_F_INGRESS`.
    static let tcRedirectToInterface: HelperFunction = { ifindex, flags, _, _, _, context in
        guard flags & ~ingress == 0 else { return tcActShot }
        HelperContext.at(context).pointee.redirect = record(.interface, index: UInt32(truncatingIfNeeded: ifindex), flags: flags)
        return tcActRedirect
    }

    /// `bpf_redirect_map(map, key, flags)` (XDP): `XDP_REDIRECT` to the entry (to every entry of
    /// a device map with `BPF_F_BROADCAST`), the low flag bits' action when the key has none,
    /// `XDP_ABORTED` for unknown flags (broadcast flags on maps other than device maps too).
    static let redirectMap: HelperFunction = { m, key, flags, _, _, context in
        MapHelpers.map(m) { map in
            let devices = map.shape.type == MapType.devmap || map.shape.type == MapType.devmapHash
            guard flags & ~(actionMask | (devices ? broadcast | excludeIngress : 0)) == 0 else { return xdpAborted }
            if flags & broadcast != 0 {
                HelperContext.at(context).pointee.redirect = record(.broadcast, index: 0, flags: flags, map: m)
                return xdpRedirect
            }
            var k = UInt32(truncatingIfNeeded: key)
            guard map.lookup(&k) != nil else { return flags & actionMask }
            HelperContext.at(context).pointee.redirect = record(.mapEntry, index: k, flags: flags, map: m)
            return xdpRedirect
        }
    }

    @inline(__always) private static func record(_ kind: RedirectRecord.Kind, index: UInt32, flags: UInt64, map: UInt64 = 0) -> RedirectRecord {
        var r = RedirectRecord()
        (r.kind, r.index, r.flags, r.map) = (kind, index, flags, map)
        return r
    }
}

extension RedirectRecord {
    /// The target recorded, naming the map; nil when the run redirected nothing.
    public var target: RedirectTarget? {
        func mapName() -> String { MapHelpers.map(map) { $0.name } }
        switch kind {
        case .none: return nil
        case .interface: return .interface(ifindex: index, ingress: flags & RedirectHelpers.ingress != 0)
        case .mapEntry: return .mapEntry(map: mapName(), key: index)
        case .broadcast: return .broadcast(map: mapName(), excludingIngress: flags & RedirectHelpers.excludeIngress != 0)
        }
    }
}

extension HelperTable {
    /// Adds tc's `bpf_redirect` (23).
    public mutating func registerTCRedirect() {
        register(.redirect, RedirectHelpers.tcRedirectToInterface)
    }

    /// Adds XDP's `bpf_redirect` (23) and `bpf_redirect_map` (51).
    public mutating func registerXDPRedirect() {
        register(.redirect, RedirectHelpers.xdpRedirectToInterface)
        register(.redirectMap, RedirectHelpers.redirectMap)
    }
}

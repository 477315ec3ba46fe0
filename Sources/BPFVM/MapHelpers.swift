import BPFCore
import BPFMaps

/// The map helpers. A program's map reference (`lddw rX, map`) is relocated to the address of
/// the ``BPFMap`` object, so r1 arrives here as that address; it is used without retaining
/// (the loaded program keeps its maps alive), so the call path has no ARC traffic.
enum MapHelpers {
    @inline(__always) static func map<R>(_ address: UInt64, _ body: (BPFMap) -> R) -> R {
        Unmanaged<BPFMap>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(address))!)._withUnsafeGuaranteedRef(body)
    }

    /// `body` applied to the map at `address` as an `M`, when `matches` accepts its shape;
    /// `otherwise` for any other map (the verifier will rule that out, the runtime refuses it).
    @inline(__always) static func map<M: BPFMap, R>(
        _ address: UInt64, as _: M.Type, where matches: (MapShape) -> Bool,
        otherwise: R, _ body: (M) -> R
    ) -> R {
        map(address) { map in matches(map.shape) ? body(unsafeDowncast(map, to: M.self)) : otherwise }
    }

    @inline(__always) static func pointer(_ address: UInt64) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(bitPattern: UInt(address)).unsafelyUnwrapped
    }

    /// `bpf_map_lookup_elem(map, key)`: the value's address, or 0.
    static let lookup: HelperFunction = { m, key, _, _, _, _ in lookup(m, key) }

    /// The lookup itself, which the interpreter also calls directly (see `Op.mapLookup`).
    @inline(__always) static func lookup(_ m: UInt64, _ key: UInt64) -> UInt64 {
        map(m) { UInt64(UInt(bitPattern: $0.lookup(pointer(key)))) }
    }

    /// `bpf_map_update_elem(map, key, value, flags)`: 0 or a negative errno.
    static let update: HelperFunction = { m, key, value, flags, _, _ in
        map(m) { map in
            do throws(MapError) {
                try map.update(pointer(key), pointer(value), flags: flags)
                return 0
            } catch {
                return error.helperResult
            }
        }
    }

    /// `bpf_map_delete_elem(map, key)`: 0 or a negative errno.
    static let delete: HelperFunction = { m, key, _, _, _, _ in
        map(m) { map in
            do throws(MapError) {
                try map.delete(pointer(key))
                return 0
            } catch {
                return error.helperResult
            }
        }
    }
}

extension MapHelpers {
    /// Runs `body` on the queue or stack at `address`; `-EINVAL` for any other map.
    @inline(__always) static func queue(_ address: UInt64, _ body: (QueueStackMap) throws(MapError) -> Void) -> UInt64 {
        map(
            address, as: QueueStackMap.self, where: { $0.type == MapType.queue || $0.type == MapType.stack },
            otherwise: HelperResult.einval
        ) { queue in
            do throws(MapError) {
                try body(queue)
                return 0
            } catch {
                return error.helperResult
            }
        }
    }

    /// `bpf_map_push_elem(map, value, flags)`: onto a queue or stack, or into a bloom filter.
    static let push: HelperFunction = { m, value, flags, _, _, _ in
        if let bloom = bloomFilter(m) {
            guard flags == UpdateFlags.any.rawValue else { return HelperResult.einval }
            bloom.add(pointer(value))
            return 0
        }
        return queue(m) { (q) throws(MapError) in try q.push(pointer(value), flags: flags) }
    }

    /// The bloom filter at `address`, or nil for another map.
    @inline(__always) static func bloomFilter(_ address: UInt64) -> BloomFilterMap? {
        map(address, as: BloomFilterMap.self, where: { $0.type == MapType.bloomFilter }, otherwise: nil) { $0 }
    }

    /// `bpf_map_pop_elem(map, value)`.
    static let pop: HelperFunction = { m, value, _, _, _, _ in
        queue(m) { (q) throws(MapError) in try q.take(into: pointer(value), remove: true) }
    }

    /// `bpf_map_peek_elem(map, value)`: the next value of a queue or stack; for a bloom filter,
    /// 0 when `value` may be in it, `-ENOENT` when it is not.
    static let peek: HelperFunction = { m, value, _, _, _, _ in
        if let bloom = bloomFilter(m) { return bloom.contains(pointer(value)) ? 0 : UInt64(bitPattern: -Int64(Errno.ENOENT.rawValue)) }
        return queue(m) { (q) throws(MapError) in try q.take(into: pointer(value), remove: false) }
    }
}

extension HelperTable {
    /// Adds `bpf_map_lookup_elem` (1), `bpf_map_update_elem` (2), `bpf_map_delete_elem` (3),
    /// and `bpf_map_push_elem` (87), `bpf_map_pop_elem` (88), `bpf_map_peek_elem` (89).
    public mutating func registerMapHelpers() {
        register(.mapLookupElem, MapHelpers.lookup)
        register(.mapUpdateElem, MapHelpers.update)
        register(.mapDeleteElem, MapHelpers.delete)
        register(.mapPushElem, MapHelpers.push)
        register(.mapPopElem, MapHelpers.pop)
        register(.mapPeekElem, MapHelpers.peek)
        builtInMapLookup = true
    }
}

import BPFCore
import Synchronization

/// `BPF_MAP_TYPE_ARRAY_OF_MAPS` and `…_HASH_OF_MAPS`: maps that hold other maps of one shape
/// (``BPFCore/MapShape/inner``). A program's lookup gives the map held — the same handle a
/// program's own map reference is, so it passes straight to the map helpers; the host puts maps
/// in with ``set(_:to:)``. The slots live in an array or hash map of 8-byte handles, so lookups
/// take no lock beyond that map's and allocate nothing; the maps held are kept alive here.
public final class MapOfMaps: BPFMap, @unchecked Sendable {
    private let slots: BPFMap
    private let held = Mutex<[ObjectIdentifier: (map: BPFMap, uses: Int)]>([:])

    init(name: String, holding shape: MapShape) throws(MapError) {
        guard shape.valueSize == 4 else { throw .invalid(name, "a map of maps has 4-byte values (map descriptors), not \(shape.valueSize)") }
        guard shape.inner != nil else { throw .invalid(name, "a map of maps needs the shape of the maps it holds (__array(values, struct {...}))") }
        var slotShape = shape
        slotShape.type = shape.type == MapType.arrayOfMaps ? MapType.array : MapType.hash
        slotShape.valueSize = 8
        slotShape.inner = nil
        slots = try BPFMap.make(name: name, shape: slotShape)
        super.init(name: name, shape: shape)
    }

    override public var storage: UnsafeMutableRawBufferPointer { slots.storage }

    /// The held map's handle (its object's address), or nil for an empty slot.
    override public func lookup(_ key: UnsafeRawPointer) -> UnsafeMutableRawPointer? {
        guard let slot = slots.lookup(key) else { return nil }
        return UnsafeMutableRawPointer(bitPattern: UInt(slot.loadUnaligned(as: UInt64.self)))
    }

    /// A map cannot be named by bytes in the userspace runtime: use ``set(_:to:)``.
    override public func update(_ key: UnsafeRawPointer, _ value: UnsafeRawPointer, flags: UInt64) throws(MapError) {
        throw .invalid(name, "maps are put into a map of maps with set(_:to:), not by a descriptor's bytes")
    }

    override public func delete(_ key: UnsafeRawPointer) throws(MapError) {
        let previous = lookup(key)
        try slots.delete(key)
        if let previous { release(Unmanaged<BPFMap>.fromOpaque(previous).takeUnretainedValue()) }
    }

    override public func nextKey(after key: UnsafeRawPointer?, into next: UnsafeMutableRawPointer) throws(MapError) {
        try slots.nextKey(after: key, into: next)
    }

    /// Puts `map` in the slot `key`, or empties it (nil). The map must have the shape this map
    /// holds (`bpf_map_meta_equal`: type, key and value sizes, flags, and size unless
    /// `BPF_F_INNER_MAP`).
    public func set(_ key: [UInt8], to map: BPFMap?) throws(MapError) {
        guard key.count == shape.keySize else { throw .invalid(name, "key is \(key.count) bytes, the map's keys are \(shape.keySize)") }
        guard let map else {
            try delete(key)
            return
        }
        guard let inner = shape.inner, Self.fits(map.shape, inner) else {
            throw .invalid(
                name, "map '\(map.name)' (\(map.shape.type), key \(map.shape.keySize), value \(map.shape.valueSize)) is not of the shape this map holds")
        }
        let previous = key.withUnsafeBytes { lookup($0.baseAddress!) }
        held.withLock { $0[ObjectIdentifier(map), default: (map, 0)].uses += 1 }
        let handle = UInt64(UInt(bitPattern: Unmanaged.passUnretained(map).toOpaque()))
        do {
            try slots.update(key, (0..<8).map { UInt8(truncatingIfNeeded: handle >> (8 * $0)) })
        } catch {
            release(map)
            throw error
        }
        if let previous { release(Unmanaged<BPFMap>.fromOpaque(previous).takeUnretainedValue()) }
    }

    /// The map in slot `key`, if any.
    public func map(at key: [UInt8]) -> BPFMap? {
        guard key.count == shape.keySize else { return nil }
        return key.withUnsafeBytes { lookup($0.baseAddress!) }.map { Unmanaged<BPFMap>.fromOpaque($0).takeUnretainedValue() }
    }

    private func release(_ map: BPFMap) {
        held.withLock { held in
            let id = ObjectIdentifier(map)
            guard let entry = held[id] else { return }
            held[id] = entry.uses > 1 ? (entry.map, entry.uses - 1) : nil
        }
    }

    private static func fits(_ shape: MapShape, _ inner: InnerMapShape) -> Bool {
        shape.type == inner.type && shape.keySize == inner.keySize && shape.valueSize == inner.valueSize
            && shape.flags.subtracting(.innerMap) == inner.flags.subtracting(.innerMap)
            && (inner.flags.contains(.innerMap) || shape.maxEntries == inner.maxEntries)
    }
}

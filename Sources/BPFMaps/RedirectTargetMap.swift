import BPFCore
import Synchronization

/// The maps XDP programs redirect through with `bpf_redirect_map`: `BPF_MAP_TYPE_DEVMAP`
/// (interfaces by index), `…_DEVMAP_HASH` (interfaces by any 32-bit key), `…_CPUMAP` (CPUs,
/// their queue sizes) and `…_XSKMAP` (AF_XDP sockets). Entries are what the host stored
/// (an ifindex, a queue size, a socket descriptor, optionally a program's): the userspace runtime
/// has no devices, CPUs queues or sockets to send to, so a redirect is recorded in the run's
/// result, naming the map and key, and goes nowhere. Entries may be deleted, unlike an array's.
public final class RedirectTargetMap: BPFMap, @unchecked Sendable {
    private let values: UnsafeMutableRawPointer
    private let stride: Int
    /// Slot by key: the key itself for the array kinds, assigned in insertion order for
    /// devmap_hash; `present` tells which slots hold an entry.
    private let slots = Mutex<(keys: [UInt32: Int], present: [Bool])>(([:], []))

    override init(name: String, shape: MapShape) {
        stride = (shape.valueSize + 7) / 8 * 8
        values = .allocate(byteCount: stride * shape.maxEntries, alignment: 16)
        values.initializeMemory(as: UInt8.self, repeating: 0, count: stride * shape.maxEntries)
        slots.withLock { $0.present = Array(repeating: false, count: shape.maxEntries) }
        super.init(name: name, shape: shape)
    }

    deinit { values.deallocate() }

    override public var storage: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: values, count: stride * shape.maxEntries) }

    private var isHash: Bool { shape.type == MapType.devmapHash }

    /// The slot of `key`; with `insert`, a new one for a devmap_hash key not yet there.
    private func slot(_ key: UInt32, insert: Bool, _ s: inout (keys: [UInt32: Int], present: [Bool])) -> Int? {
        guard isHash else { return Int(key) < shape.maxEntries ? Int(key) : nil }
        if let slot = s.keys[key] { return slot }
        guard insert, let free = s.present.firstIndex(of: false) else { return nil }
        s.keys[key] = free
        return free
    }

    override public func lookup(_ key: UnsafeRawPointer) -> UnsafeMutableRawPointer? {
        let k = key.loadUnaligned(as: UInt32.self)
        return slots.withLock { s in
            guard let i = slot(k, insert: false, &s), s.present[i] else { return nil }
            return values + i * stride
        }
    }

    override public func update(_ key: UnsafeRawPointer, _ value: UnsafeRawPointer, flags: UInt64) throws(MapError) {
        guard flags <= UpdateFlags.exist.rawValue else { throw .invalid(name, "unknown update flags \(flags)") }
        let k = key.loadUnaligned(as: UInt32.self)
        try slots.withLock { (s) throws(MapError) in
            let existing = slot(k, insert: false, &s).map { s.present[$0] } ?? false
            if flags == UpdateFlags.noExist.rawValue, existing { throw .exists(name) }
            if flags == UpdateFlags.exist.rawValue, !existing { throw .notFound(name) }
            guard let i = slot(k, insert: true, &s) else {
                throw isHash ? .full(name) : .invalid(name, "index \(k) is past the map's \(shape.maxEntries) entries")
            }
            (values + i * stride).copyMemory(from: value, byteCount: shape.valueSize)
            s.present[i] = true
        }
    }

    override public func delete(_ key: UnsafeRawPointer) throws(MapError) {
        let k = key.loadUnaligned(as: UInt32.self)
        try slots.withLock { (s) throws(MapError) in
            guard let i = slot(k, insert: false, &s), s.present[i] else { throw .notFound(name) }
            s.present[i] = false
            if isHash { s.keys[k] = nil }
        }
    }

    override public func nextKey(after key: UnsafeRawPointer?, into next: UnsafeMutableRawPointer) throws(MapError) {
        let after = key?.loadUnaligned(as: UInt32.self)
        let found: UInt32? = slots.withLock { s in
            if isHash {
                let keys = s.keys.keys.sorted()
                return keys.first { after == nil || $0 > after! }
            }
            let start = after.map { Int($0) + 1 } ?? 0
            // The kernel's devmap iterates every index, present or not.
            return start < shape.maxEntries ? UInt32(start) : nil
        }
        guard let found else { throw .notFound(name) }
        next.storeBytes(of: found, as: UInt32.self)
    }
}

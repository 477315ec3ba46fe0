import BPFPlatform
public import BPFCore
import Synchronization

/// A map with kernel semantics. Values live in raw memory the map owns and never move for the
/// map's life, so a program may keep the pointer a lookup returned (DESIGN.md principle 2).
/// Every operation is safe to call from many threads at once.
///
/// Create maps with ``make(name:shape:)``; operate on them through the raw-pointer methods
/// (what helpers use, allocation-free) or the byte-array conveniences (for host code).
public class BPFMap: @unchecked Sendable {
    /// The map's name, for messages.
    public let name: String
    /// Its shape.
    public let shape: MapShape

    /// The most memory one map may reserve for its entries.
    public static let memoryLimit = 1 << 30

    init(name: String, shape: MapShape) {
        self.name = name
        self.shape = shape
    }

    /// Creates a map of `shape.type`.
    /// - Throws: ``MapError`` for an unsupported type, zero sizes, or a map over the memory limit.
    public static func make(name: String, shape: MapShape) throws(MapError) -> BPFMap {
        if shape.type == MapType.ringbuf {
            // The kernel's rule: no key or value, a page-multiple power-of-two size.
            guard shape.keySize == 0, shape.valueSize == 0, shape.maxEntries >= 4096, shape.maxEntries & (shape.maxEntries - 1) == 0 else {
                throw .invalid(name, "a ring buffer needs no key or value and a power-of-two size of at least 4096 bytes (got \(shape.maxEntries))")
            }
            guard shape.maxEntries <= memoryLimit else {
                throw MapError.tooLarge(map: name, reason: "\(shape.maxEntries) bytes exceed the map memory limit", errno: .ENOMEM)
            }
            return RingBufferMap(name: name, shape: shape)
        }
        if shape.type == MapType.perfEventArray {
            // As libbpf sizes it: a slot per possible CPU unless the object says otherwise.
            var shape = shape
            if shape.maxEntries == 0 { shape.maxEntries = PossibleCPUs.count }
            guard shape.keySize == 4, shape.valueSize == 4, shape.maxEntries <= 4096 else {
                throw .invalid(name, "a perf event array needs 4-byte keys and values and at most 4096 slots")
            }
            return PerfEventArrayMap(name: name, shape: shape)
        }
        if shape.type == MapType.bloomFilter {
            guard shape.keySize == 0, shape.valueSize > 0, shape.valueSize <= 512, shape.maxEntries > 0, shape.maxEntries < memoryLimit / 8 else {
                throw .invalid(name, "a bloom filter needs no key, a value size and max entries within the limits")
            }
            return BloomFilterMap(name: name, shape: shape)
        }
        if shape.type == MapType.queue || shape.type == MapType.stack {
            guard shape.keySize == 0, shape.valueSize > 0, shape.valueSize <= memoryLimit, shape.maxEntries > 0,
                shape.maxEntries < memoryLimit / shape.valueSize
            else {
                throw .invalid(name, "a queue or stack needs no key, a value size and max entries within the limits")
            }
            return QueueStackMap(name: name, shape: shape)
        }
        guard shape.keySize > 0, shape.valueSize > 0, shape.maxEntries > 0 else {
            throw .invalid(
                name, "key size, value size and max entries must be positive (key \(shape.keySize), value \(shape.valueSize), entries \(shape.maxEntries))")
        }
        guard shape.keySize <= 512 else {
            throw MapError.tooLarge(map: name, reason: "keys of \(shape.keySize) bytes exceed the 512 a program's stack can hold", errno: .E2BIG)
        }
        guard shape.valueSize <= memoryLimit else {
            throw MapError.tooLarge(
                map: name, reason: "values of \(shape.valueSize) bytes exceed the \(memoryLimit >> 20) MiB map memory limit", errno: .ENOMEM)
        }
        let copies = shape.type == MapType.percpuArray || shape.type == MapType.percpuHash ? PossibleCPUs.count : 1
        let perEntry = (shape.keySize + 7) / 8 * 8 + (shape.valueSize + 7) / 8 * 8 * copies + 16
        let (total, overflow) = perEntry.multipliedReportingOverflow(by: shape.maxEntries)
        guard !overflow, total <= memoryLimit else {
            throw MapError.tooLarge(
                map: name, reason: "\(shape.maxEntries) entries of \(perEntry) bytes exceed the \(memoryLimit >> 20) MiB map memory limit", errno: .ENOMEM)
        }
        switch shape.type {
        case MapType.array:
            guard shape.keySize == 4 else { throw .invalid(name, "an array map's key must be 4 bytes, not \(shape.keySize)") }
            return ArrayMap(name: name, shape: shape)
        case MapType.hash, MapType.lruHash:
            return HashMap(name: name, shape: shape)
        case MapType.stackTrace:
            // Stack ids to arrays of addresses: the host sees them as a hash map; the runtime has
            // no stacks to walk, so nothing fills it (bpf_get_stackid is the kernel's alone).
            guard shape.keySize == 4, shape.valueSize % 8 == 0 else {
                throw .invalid(name, "a stack trace map needs 4-byte keys and values of 8-byte addresses")
            }
            return HashMap(name: name, shape: shape)
        case MapType.cgroupArray:
            // Cgroup descriptors by index, for the host to fill.
            guard shape.keySize == 4, shape.valueSize == 4 else { throw .invalid(name, "a cgroup array needs 4-byte keys and values") }
            return ArrayMap(name: name, shape: shape)
        case MapType.lpmTrie:
            // The kernel's rules: a 4-byte prefix length plus 1 to 256 bytes of data, no preallocation.
            guard shape.keySize > 4, shape.keySize <= 260, shape.flags.contains(.noPrealloc) else {
                throw .invalid(name, "an LPM trie needs a key of a 4-byte prefix length and 1-256 data bytes, and BPF_F_NO_PREALLOC")
            }
            return LPMTrieMap(name: name, shape: shape)
        case MapType.percpuArray, MapType.percpuHash:
            guard shape.type == MapType.percpuHash || shape.keySize == 4 else { throw .invalid(name, "a per-CPU array's key must be 4 bytes") }
            return PerCPUMap(name: name, shape: shape)
        case MapType.devmap, MapType.devmapHash, MapType.cpumap, MapType.xskmap:
            // The kernel's value layouts: an ifindex (devmap) or queue size (cpumap), optionally
            // with a program's descriptor; a socket descriptor (xskmap).
            let values = shape.type == MapType.xskmap ? [4] : [4, 8]
            guard shape.keySize == 4, values.contains(shape.valueSize) else {
                throw .invalid(name, "a \(shape.type) needs 4-byte keys and values of \(values.map(String.init).joined(separator: " or ")) bytes")
            }
            return RedirectTargetMap(name: name, shape: shape)
        case MapType.arrayOfMaps, MapType.hashOfMaps:
            return try MapOfMaps(name: name, holding: shape)
        case MapType.progArray:
            guard shape.keySize == 4, shape.valueSize == 4 else { throw .invalid(name, "a program array needs 4-byte keys and values") }
            return ProgramArrayMap(name: name, shape: shape)
        default:
            throw .invalid(name, "map type \(shape.type) is not supported by the userspace runtime yet")
        }
    }

    /// The raw memory holding the map's entries, for checked execution's region list.
    public var storage: UnsafeMutableRawBufferPointer { fatalError("abstract") }

    /// For maps whose lookup is pure arithmetic (arrays): value `i` is at `base + i·stride` for
    /// `i < count`. A JIT inlines such lookups, as the kernel's does; nil for other maps.
    package var directLookup: (base: UInt64, stride: Int, count: Int)? { nil }

    /// The value stored under `key`, or nil.
    public func lookup(_ key: UnsafeRawPointer) -> UnsafeMutableRawPointer? { fatalError("abstract") }

    /// Stores `value` under `key` according to `flags`.
    public func update(_ key: UnsafeRawPointer, _ value: UnsafeRawPointer, flags: UInt64) throws(MapError) { fatalError("abstract") }

    /// Removes `key`.
    public func delete(_ key: UnsafeRawPointer) throws(MapError) { fatalError("abstract") }

    /// Writes the key after `key` (the first key when `key` is nil or absent) to `next`.
    /// - Throws: ``MapError`` `ENOENT` after the last key.
    public func nextKey(after key: UnsafeRawPointer?, into next: UnsafeMutableRawPointer) throws(MapError) { fatalError("abstract") }

    /// Whether the host may no longer change the map (`BPF_MAP_FREEZE`): read-only global data
    /// is frozen once written, so the verifier may take its contents as known numbers.
    public private(set) var isFrozen = false

    /// Freezes the map: the host's updates and deletes are refused from now on (`EPERM`).
    public func freeze() { isFrozen = true }

    // MARK: Host conveniences

    /// The value under `key`, copied out.
    public func lookup(_ key: [UInt8]) throws(MapError) -> [UInt8]? {
        try checkKey(key)
        return key.withUnsafeBytes { k in
            lookup(k.baseAddress!).map { Array(UnsafeRawBufferPointer(start: $0, count: shape.valueSize)) }
        }
    }

    /// Stores `value` under `key`.
    public func update(_ key: [UInt8], _ value: [UInt8], flags: UpdateFlags = .any) throws(MapError) {
        guard !isFrozen else { throw .frozen(map: name) }
        try checkKey(key)
        guard value.count == shape.valueSize else { throw .invalid(name, "value is \(value.count) bytes, the map's values are \(shape.valueSize)") }
        let failure: MapError? = key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in
                do throws(MapError) { try update(k.baseAddress!, v.baseAddress!, flags: flags.rawValue) } catch { return error }
                return nil
            }
        }
        if let failure { throw failure }
    }

    /// Removes `key`.
    public func delete(_ key: [UInt8]) throws(MapError) {
        guard !isFrozen else { throw .frozen(map: name) }
        try checkKey(key)
        let failure: MapError? = key.withUnsafeBytes { k in
            do throws(MapError) { try delete(k.baseAddress!) } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }

    /// Every key, in iteration order.
    public func keys() -> [[UInt8]] {
        var out: [[UInt8]] = []
        var current: [UInt8]? = nil
        var next = [UInt8](repeating: 0, count: shape.keySize)
        while true {
            let found: Bool = next.withUnsafeMutableBytes { n in
                let after = current.map { UnsafeMutableRawPointer.allocate(byteCount: $0.count, alignment: 8) }
                defer { after?.deallocate() }
                if let after, let current { current.withUnsafeBytes { after.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
                do throws(MapError) { try nextKey(after: after.map(UnsafeRawPointer.init), into: n.baseAddress!) } catch { return false }
                return true
            }
            guard found, out.count <= shape.maxEntries else { return out }
            out.append(next)
            current = next
        }
    }

    private func checkKey(_ key: [UInt8]) throws(MapError) {
        guard key.count == shape.keySize else { throw .invalid(name, "key is \(key.count) bytes, the map's keys are \(shape.keySize)") }
    }
}

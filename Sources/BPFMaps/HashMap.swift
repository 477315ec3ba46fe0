import BPFCore
import CBPFShims
import Synchronization
import BPFPlatform

/// `BPF_MAP_TYPE_HASH` with the kernel's default preallocation: all `maxEntries` elements are
/// reserved up front, so an update never allocates and a value's address never changes (an
/// element deleted and reused later holds another key's value, as in the kernel). Buckets chain
/// through element indices; one lock serializes changes.
///
/// Lookups take no lock, like the kernel's RCU readers: writers publish links with release
/// stores, readers follow them with acquire loads. Each chain ends in a marker naming its bucket
/// (`~bucket`, the kernel's "nulls" lists): a reader carried into another chain or the free
/// list by a concurrent delete ends on a different marker and starts over.
///
/// `BPF_MAP_TYPE_LRU_HASH` is the same map that, when full, makes room instead of failing: it
/// evicts an entry not used lately, found by a clock sweep over per-element reference bits that
/// lookups and updates set (an approximation of least-recently-used, as the kernel's is).
final class HashMap: BPFMap, @unchecked Sendable {
    /// Element layout: `next` (Int32; negative ends a chain), hash (UInt32), key, value — key and
    /// value each padded to 8 bytes.
    private let elements: UnsafeMutableRawPointer
    private let elementSize: Int
    private let keyStride: Int
    private let buckets: UnsafeMutablePointer<Int32>
    private let bucketMask: Int
    private let lock = Mutex<State>(State(free: 0, count: 0))
    /// LRU maps: a byte per element, set when it is used, cleared by the eviction sweep.
    private let referenced: UnsafeMutablePointer<UInt8>?

    /// The end of the free list (no bucket's marker).
    private static let freeListEnd = Int32.min

    private struct State {
        /// Head of the free list (negative when full).
        var free: Int32
        var count: Int
        /// LRU maps: where the eviction sweep resumes.
        var hand = 0
    }

    override init(name: String, shape: MapShape) {
        keyStride = (shape.keySize + 7) / 8 * 8
        elementSize = 8 + keyStride + (shape.valueSize + 7) / 8 * 8
        elements = .allocate(byteCount: elementSize * shape.maxEntries, alignment: 16)
        elements.initializeMemory(as: UInt8.self, repeating: 0, count: elementSize * shape.maxEntries)
        var bucketCount = 1
        while bucketCount < shape.maxEntries { bucketCount <<= 1 }
        buckets = .allocate(capacity: bucketCount)
        for b in 0..<bucketCount { (buckets + b).initialize(to: ~Int32(b)) }
        bucketMask = bucketCount - 1
        if shape.type == MapType.lruHash {
            referenced = .allocate(capacity: shape.maxEntries)
            referenced!.initialize(repeating: 0, count: shape.maxEntries)
        } else {
            referenced = nil
        }
        super.init(name: name, shape: shape)
        for i in 0..<shape.maxEntries {
            next(Int32(i)).pointee = i + 1 < shape.maxEntries ? Int32(i + 1) : Self.freeListEnd
        }
    }

    deinit {
        elements.deallocate()
        buckets.deallocate()
        referenced?.deallocate()
    }

    override var storage: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: elements, count: elementSize * shape.maxEntries) }

    @inline(__always) private func element(_ i: Int32) -> UnsafeMutableRawPointer { elements + Int(i) * elementSize }
    @inline(__always) private func next(_ i: Int32) -> UnsafeMutablePointer<Int32> { element(i).assumingMemoryBound(to: Int32.self) }
    @inline(__always) private func keyPointer(_ i: Int32) -> UnsafeMutableRawPointer { element(i) + 8 }
    @inline(__always) private func valuePointer(_ i: Int32) -> UnsafeMutableRawPointer { element(i) + 8 + keyStride }

    /// A 32-bit hash of the key's bytes (multiply-xorshift over 8-byte words).
    @inline(__always) private func hash(_ key: UnsafeRawPointer) -> UInt32 {
        if shape.keySize == 4 { return Self.mix(0x243F_6A88_85A3_08D7 ^ UInt64(key.loadUnaligned(as: UInt32.self))) }  // the usual u32 key
        var h: UInt64 = 0x243F_6A88_85A3_08D3 ^ UInt64(shape.keySize)
        var at = 0
        while at + 8 <= shape.keySize {
            h = (h ^ key.loadUnaligned(fromByteOffset: at, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
            at += 8
        }
        var tail: UInt64 = 0
        while at < shape.keySize {
            tail = tail << 8 | UInt64(key.load(fromByteOffset: at, as: UInt8.self))
            at += 1
        }
        return Self.mix(h ^ tail)
    }

    @inline(__always) private static func mix(_ x: UInt64) -> UInt32 {
        var h = x &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 31
        return UInt32(truncatingIfNeeded: h)
    }

    /// The element holding `key` and its predecessor in the chain (-1 for none), under the lock.
    /// Whether two keys are equal: 4- and 8-byte keys (the usual ones) by one load each.
    @inline(__always) private func sameKey(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> Bool {
        switch shape.keySize {
        case 4: a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self)
        case 8: a.loadUnaligned(as: UInt64.self) == b.loadUnaligned(as: UInt64.self)
        default: memcmp(a, b, shape.keySize) == 0
        }
    }

    @inline(__always) private func find(_ key: UnsafeRawPointer, _ h: UInt32) -> (element: Int32, previous: Int32) {
        var previous: Int32 = -1
        var i = buckets[Int(h) & bucketMask]
        while i >= 0 {
            if element(i).load(fromByteOffset: 4, as: UInt32.self) == h, sameKey(keyPointer(i), key) {
                return (i, previous)
            }
            previous = i
            i = next(i).pointee
        }
        return (-1, previous)
    }

    override func lookup(_ key: UnsafeRawPointer) -> UnsafeMutableRawPointer? {
        // The usual key sizes compare with one load and make no call, so the walk spills nothing.
        switch shape.keySize {
        case 4:
            let k = key.loadUnaligned(as: UInt32.self)
            return search(hash(key)) { $0.loadUnaligned(as: UInt32.self) == k }
        case 8:
            let k = key.loadUnaligned(as: UInt64.self)
            return search(hash(key)) { $0.loadUnaligned(as: UInt64.self) == k }
        default:
            return search(hash(key)) { memcmp($0, key, shape.keySize) == 0 }
        }
    }

    /// The value of the element with hash `h` whose key `matches`, without the lock.
    @inline(__always) private func search(_ h: UInt32, _ matches: (UnsafeRawPointer) -> Bool) -> UnsafeMutableRawPointer? {
        let bucket = Int(h) & bucketMask
        let limit = shape.maxEntries
        while true {
            var i = Int32(bitPattern: cbpf_load_acquire32(buckets + bucket))
            var steps = 0
            while i >= 0, steps <= limit {
                let e = elements + Int(i) &* elementSize
                if e.load(fromByteOffset: 4, as: UInt32.self) == h, matches(e + 8) {
                    referenced?[Int(i)] = 1
                    return e + 8 + keyStride
                }
                i = Int32(bitPattern: cbpf_load_acquire32(e.assumingMemoryBound(to: Int32.self)))
                steps += 1
            }
            if i == ~Int32(bucket) { return nil }  // the end of this bucket's chain: not there
        }
    }

    @inline(__always) private func publish(_ link: UnsafeMutablePointer<Int32>, _ value: Int32) {
        cbpf_store_release32(link, UInt32(bitPattern: value))
    }

    override func update(_ key: UnsafeRawPointer, _ value: UnsafeRawPointer, flags: UInt64) throws(MapError) {
        guard flags <= UpdateFlags.exist.rawValue else { throw .invalid(name, "unknown update flags \(flags)") }
        let h = hash(key)
        try lock.withLock { (state) throws(MapError) in
            let found = find(key, h).element
            if found >= 0 {
                guard flags != UpdateFlags.noExist.rawValue else { throw .exists(name) }
                valuePointer(found).copyMemory(from: value, byteCount: shape.valueSize)
                referenced?[Int(found)] = 1
                return
            }
            guard flags != UpdateFlags.exist.rawValue else { throw .notFound(name) }
            if state.free < 0, referenced != nil { evict(&state) }
            let fresh = state.free
            guard fresh >= 0 else { throw .full(name) }
            referenced?[Int(fresh)] = 1
            state.free = next(fresh).pointee
            state.count += 1
            element(fresh).storeBytes(of: h, toByteOffset: 4, as: UInt32.self)
            keyPointer(fresh).copyMemory(from: key, byteCount: shape.keySize)
            valuePointer(fresh).copyMemory(from: value, byteCount: shape.valueSize)
            let bucket = Int(h) & bucketMask
            next(fresh).pointee = buckets[bucket]
            publish(buckets + bucket, fresh)
        }
    }

    /// LRU maps, full, under the lock: frees the first element the sweep finds unused since it
    /// last passed (every element is in use when the map is full), clearing bits on the way.
    private func evict(_ state: inout State) {
        guard let referenced else { return }
        while referenced[state.hand] != 0 {
            referenced[state.hand] = 0
            state.hand = (state.hand + 1) % shape.maxEntries
        }
        let victim = Int32(state.hand)
        state.hand = (state.hand + 1) % shape.maxEntries
        let h = element(victim).load(fromByteOffset: 4, as: UInt32.self)
        let (found, previous) = find(keyPointer(victim), h)
        guard found == victim else { return }
        unlink(victim, previous: previous, hash: h, &state)
    }

    /// Takes element `i` out of its chain (after `previous`, -1 for the bucket head) onto the free list.
    private func unlink(_ i: Int32, previous: Int32, hash h: UInt32, _ state: inout State) {
        publish(previous >= 0 ? next(previous) : buckets + (Int(h) & bucketMask), next(i).pointee)
        publish(next(i), state.free)
        state.free = i
        state.count -= 1
    }

    override func delete(_ key: UnsafeRawPointer) throws(MapError) {
        let h = hash(key)
        try lock.withLock { (state) throws(MapError) in
            let (found, previous) = find(key, h)
            guard found >= 0 else { throw .notFound(name) }
            unlink(found, previous: previous, hash: h, &state)
        }
    }

    override func nextKey(after key: UnsafeRawPointer?, into result: UnsafeMutableRawPointer) throws(MapError) {
        try lock.withLock { (_) throws(MapError) in
            var bucket = 0
            var candidate: Int32 = -1
            if let key {
                let h = hash(key)
                let found = find(key, h).element
                if found >= 0 {
                    candidate = next(found).pointee
                    bucket = (Int(h) & bucketMask) + 1
                }
            }
            while candidate < 0, bucket <= bucketMask {
                candidate = buckets[bucket]
                bucket += 1
            }
            guard candidate >= 0 else { throw .notFound(name) }
            result.copyMemory(from: keyPointer(candidate), byteCount: shape.keySize)
        }
    }

    /// The number of keys present.
    var count: Int { lock.withLock { $0.count } }
}

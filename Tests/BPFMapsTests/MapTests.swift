import BPFCore
import Synchronization
import BPFMaps
import Dispatch
import Foundation
import Testing

private func key32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
private func value64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

private func errno(_ body: () throws -> Void) -> Int32? {
    do { try body(); return nil } catch { return (error as? MapError)?.errno.rawValue ?? -1 }
}

@Suite("Maps")
struct MapTests {
    @Test("array maps: every element exists, zeroed, at a stable address")
    func array() throws {
        let map = try BPFMap.make(name: "a", shape: MapShape(type: MapType.array, keySize: 4, valueSize: 12, maxEntries: 4))
        #expect(try map.lookup(key32(3)) == Array(repeating: 0, count: 12))
        #expect(try map.lookup(key32(4)) == nil)
        let address = key32(2).withUnsafeBytes { map.lookup($0.baseAddress!) }
        try map.update(key32(2), Array(1...12))
        try map.update(key32(2), Array(repeating: 7, count: 12), flags: .exist)
        #expect(try map.lookup(key32(2)) == Array(repeating: 7, count: 12))
        #expect(key32(2).withUnsafeBytes { map.lookup($0.baseAddress!) } == address)
        #expect(errno { try map.update(key32(1), Array(repeating: 0, count: 12), flags: .noExist) } == 17)  // EEXIST
        #expect(errno { try map.update(key32(9), Array(repeating: 0, count: 12)) } == 7)  // E2BIG
        #expect(errno { try map.delete(key32(1)) } == 22)  // EINVAL
        #expect(errno { try map.update(key32(1), [1]) } == 22)
        #expect(map.keys() == (0..<4).map { key32(UInt32($0)) })
    }

    @Test("maps of maps hold maps of their inner shape, give their handle to lookups, and keep them alive")
    func mapOfMaps() throws {
        let inner = InnerMapShape(type: .array, keySize: 4, valueSize: 8, maxEntries: 4)
        let outer = try #require(
            try BPFMap.make(name: "outer", shape: MapShape(type: .hashOfMaps, keySize: 4, valueSize: 4, maxEntries: 2, inner: inner)) as? MapOfMaps)
        let held = try BPFMap.make(name: "held", shape: inner.shape)
        try outer.set([7, 0, 0, 0], to: held)
        #expect(outer.map(at: [7, 0, 0, 0]) === held)
        let handle = [UInt8]([7, 0, 0, 0]).withUnsafeBytes { outer.lookup($0.baseAddress!) }
        #expect(handle == Unmanaged.passUnretained(held).toOpaque())
        let wrong = try BPFMap.make(name: "wrong", shape: MapShape(type: .array, keySize: 4, valueSize: 4, maxEntries: 4))
        #expect(throws: MapError.self) { try outer.set([8, 0, 0, 0], to: wrong) }
        #expect(throws: MapError.self) { try outer.update([8, 0, 0, 0], [3, 0, 0, 0]) }
        try outer.set([7, 0, 0, 0], to: nil)
        #expect(outer.map(at: [7, 0, 0, 0]) == nil && outer.keys().isEmpty)
        #expect(throws: MapError.self) {
            _ = try BPFMap.make(name: "shapeless", shape: MapShape(type: .arrayOfMaps, keySize: 4, valueSize: 4, maxEntries: 2))
        }
    }

    @Test("hash maps: flags, fullness, deletion and iteration as the kernel defines them")
    func hash() throws {
        let map = try BPFMap.make(name: "h", shape: MapShape(type: MapType.hash, keySize: 4, valueSize: 8, maxEntries: 3))
        #expect(try map.lookup(key32(1)) == nil)
        #expect(errno { try map.update(key32(1), value64(1), flags: .exist) } == 2)  // ENOENT
        try map.update(key32(1), value64(10), flags: .noExist)
        #expect(errno { try map.update(key32(1), value64(11), flags: .noExist) } == 17)
        try map.update(key32(1), value64(12), flags: .exist)
        try map.update(key32(2), value64(20))
        try map.update(key32(3), value64(30))
        #expect(errno { try map.update(key32(4), value64(40)) } == 7)  // full
        let address = key32(3).withUnsafeBytes { map.lookup($0.baseAddress!) }
        try map.delete(key32(2))
        #expect(errno { try map.delete(key32(2)) } == 2)
        try map.update(key32(4), value64(40))
        #expect(key32(3).withUnsafeBytes { map.lookup($0.baseAddress!) } == address)  // values never move
        #expect(Set(map.keys()) == Set([key32(1), key32(3), key32(4)]))
        #expect(try map.lookup(key32(1)) == value64(12))
        #expect(errno { try map.update(key32(1), value64(1), flags: UpdateFlags(rawValue: 2)!) } == nil)
    }

    /// Full, an LRU map makes room: the entries used since the last eviction stay, one that was
    /// not goes; flags keep their meaning.
    @Test("LRU hash maps evict an entry not used lately instead of failing when full")
    func lru() throws {
        let map = try BPFMap.make(name: "lru", shape: MapShape(type: MapType.lruHash, keySize: 4, valueSize: 8, maxEntries: 4))
        for k: UInt32 in 1...4 { try map.update(key32(k), value64(UInt64(k))) }
        // A first insert past full sweeps every bit clear and evicts one entry.
        try map.update(key32(5), value64(5))
        #expect(map.keys().count == 4)
        // Use all but one of the survivors: the next insert evicts the unused one.
        let survivors = map.keys().filter { $0 != key32(5) }
        for key in survivors.dropLast() { #expect(try map.lookup(key) != nil) }
        try map.update(key32(5), value64(50))  // an update counts as a use too
        try map.update(key32(6), value64(6))
        #expect(Set(map.keys()) == Set(survivors.dropLast() + [key32(5), key32(6)]))
        #expect(try map.lookup(key32(5)) == value64(50))
        #expect(errno { try map.update(key32(6), value64(7), flags: .noExist) } == 17)
        #expect(errno { try map.update(key32(99), value64(7), flags: .exist) } == 2)
        try map.delete(key32(6))
        #expect(map.keys().count == 3)
    }

    /// Random operations against a dictionary model: every result and every error agrees.
    @Test("hash maps behave like the model under random operations", arguments: [1, 4, 13])
    func model(keySize: Int) throws {
        let map = try BPFMap.make(name: "m", shape: MapShape(type: MapType.hash, keySize: keySize, valueSize: 8, maxEntries: 64))
        var model: [[UInt8]: [UInt8]] = [:]
        var state: UInt64 = 12345
        func random(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33) % n
        }
        for step in 0..<20_000 {
            let key = (0..<keySize).map { _ in UInt8(random(keySize == 1 ? 256 : 3)) }
            let value = value64(UInt64(step))
            switch random(4) {
            case 0:
                #expect(try map.lookup(key) == model[key])
            case 1:
                let flags = [UpdateFlags.any, .noExist, .exist][random(3)]
                let expected: Int32? =
                    switch flags {
                    case .noExist where model[key] != nil: 17
                    case .exist where model[key] == nil: 2
                    case _ where model[key] == nil && model.count == 64: 7
                    default: nil
                    }
                #expect(errno { try map.update(key, value, flags: flags) } == expected)
                if expected == nil { model[key] = value }
            default:
                #expect(errno { try map.delete(key) } == (model[key] == nil ? 2 : nil))
                model[key] = nil
            }
        }
        #expect(Set(map.keys()) == Set(model.keys))
    }

    @Test("concurrent updates, lookups and deletes keep every thread's keys intact")
    func concurrency() throws {
        let map = try BPFMap.make(name: "c", shape: MapShape(type: MapType.hash, keySize: 4, valueSize: 8, maxEntries: 4096))
        let threads = 4, perThread = 500
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            for round in 0..<20 {
                for i in 0..<perThread {
                    let key = key32(UInt32(t * perThread + i))
                    try? map.update(key, value64(UInt64(round)))
                    _ = try? map.lookup(key)
                    if i % 3 == 0 { try? map.delete(key) }
                }
            }
        }
        var present = 0
        for t in 0..<threads {
            for i in 0..<perThread {
                let value = try map.lookup(key32(UInt32(t * perThread + i)))
                if i % 3 == 0 {
                    #expect(value == nil)
                } else {
                    #expect(value == value64(19))
                    present += 1
                }
            }
        }
        #expect(map.keys().count == present)
    }

    /// Lookups take no lock: readers racing with deletes and reinsertions in the same buckets
    /// (a small table, so chains are long and shared) must still find every key that is never
    /// deleted — the chain-end markers send a reader that was carried off its chain back to it.
    @Test("lock-free lookups always find keys that stay, while other keys churn")
    func lockFreeLookups() throws {
        // 16 buckets for 16 elements: the churned keys, inserted at chain heads, sit in front
        // of the stable ones, so readers walk through elements as they are deleted.
        let map = try BPFMap.make(name: "l", shape: MapShape(type: MapType.hash, keySize: 4, valueSize: 8, maxEntries: 16))
        for k in 0..<8 { try map.update(key32(UInt32(k)), value64(UInt64(k))) }  // the stable keys
        let missed = Atomic<Int>(0), lookups = Atomic<Int>(0), churns = Atomic<Int>(0), readerDone = Atomic<Bool>(false)
        // The two run side by side until the reader has done 200,000 lookups while the writer
        // churned at least 20,000 times (under a loaded test run a thread may start late), with a
        // 20-second bound.
        let deadline = DispatchTime.now().uptimeNanoseconds + 20_000_000_000
        // Two real threads: a Dispatch pool under a loaded test run may run both bodies on one
        // thread, one after the other, and the writer would wait for a reader that never starts.
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {  // the writer: keys 100-107 in and out, through the same buckets
            var round = 0
            while !readerDone.load(ordering: .acquiring), DispatchTime.now().uptimeNanoseconds < deadline {
                round += 1
                let key = key32(UInt32(100 + round % 8))
                try? map.update(key, value64(1))
                try? map.delete(key)
                churns.add(1, ordering: .relaxed)
            }
            done.signal()
        }
        Thread.detachNewThread {  // the reader
            var round = 0
            while lookups.load(ordering: .relaxed) < 200_000 || churns.load(ordering: .relaxed) < 20_000,
                DispatchTime.now().uptimeNanoseconds < deadline
            {
                round += 1
                let k = UInt32(round % 8)
                let found = key32(k).withUnsafeBytes { map.lookup($0.baseAddress!) }
                if found?.load(as: UInt64.self) != UInt64(k) { missed.add(1, ordering: .relaxed) }
                lookups.add(1, ordering: .relaxed)
            }
            readerDone.store(true, ordering: .releasing)
            done.signal()
        }
        done.wait()
        done.wait()
        #expect(lookups.load(ordering: .relaxed) >= 200_000)
        #expect(churns.load(ordering: .relaxed) >= 20_000)
        #expect(missed.load(ordering: .relaxed) == 0)
    }

    @Test(
        "shapes over the limits are refused with the kernel's errno",
        arguments: [
            (MapShape(type: MapType.hash, keySize: 0, valueSize: 8, maxEntries: 1), Int32(22)),
            (MapShape(type: MapType.hash, keySize: 4, valueSize: 8, maxEntries: 0), 22),
            (MapShape(type: MapType.array, keySize: 8, valueSize: 8, maxEntries: 1), 22),
            (MapShape(type: .ringbuf, keySize: 4, valueSize: 8, maxEntries: 1), 22),
            (MapShape(type: MapType.hash, keySize: 4, valueSize: 1 << 20, maxEntries: 1 << 20), 12),
            (MapShape(type: MapType.array, keySize: 4, valueSize: Int.max / 2, maxEntries: 4), 12),
            (MapShape(type: MapType.hash, keySize: 4, valueSize: Int.max, maxEntries: Int.max), 12),
            (MapShape(type: MapType.hash, keySize: 513, valueSize: 8, maxEntries: 1), 7),
        ] as [(MapShape, Int32)])
    func limits(shape: MapShape, expected: Int32) {
        #expect(errno { _ = try BPFMap.make(name: "x", shape: shape) } == expected)
    }
}

import BPFCore
import Testing

@testable import BPFMaps

private func key(_ k: UInt32) -> [UInt8] { withUnsafeBytes(of: k.littleEndian) { Array($0) } }

@Suite("Device, CPU and socket maps")
struct RedirectTargetMapTests {
    @Test("devmap: indexes below max_entries, entries deleted and iterated by index")
    func devmap() throws {
        let map = try BPFMap.make(name: "ports", shape: MapShape(type: .devmap, keySize: 4, valueSize: 4, maxEntries: 4))
        try map.update(key(2), key(7))
        #expect(try map.lookup(key(2)) == key(7) && (try map.lookup(key(1))) == nil)
        #expect(throws: MapError.self) { try map.update(key(4), key(7)) }
        #expect(throws: MapError.self) { try map.update(key(2), key(8), flags: .noExist) }
        try map.delete(key(2))
        #expect(try map.lookup(key(2)) == nil)
        #expect(throws: MapError.self) { try map.delete(key(2)) }
        #expect(map.keys() == [key(0), key(1), key(2), key(3)])
    }

    @Test("devmap_hash: any key until full, freed by delete")
    func devmapHash() throws {
        let map = try BPFMap.make(name: "hosts", shape: MapShape(type: .devmapHash, keySize: 4, valueSize: 8, maxEntries: 2))
        try map.update(key(900), key(1) + key(0))
        try map.update(key(5), key(2) + key(0))
        #expect(throws: MapError.self) { try map.update(key(6), key(3) + key(0)) }
        #expect(map.keys() == [key(5), key(900)])
        try map.delete(key(900))
        try map.update(key(6), key(3) + key(0))
        #expect(try map.lookup(key(6)) == key(3) + key(0))
    }

    @Test("value sizes the kernel takes, and no others")
    func shapes() {
        #expect(throws: MapError.self) { try BPFMap.make(name: "x", shape: MapShape(type: .xskmap, keySize: 4, valueSize: 8, maxEntries: 4)) }
        #expect(throws: MapError.self) { try BPFMap.make(name: "c", shape: MapShape(type: .cpumap, keySize: 8, valueSize: 4, maxEntries: 4)) }
        #expect(throws: MapError.self) { try BPFMap.make(name: "b", shape: MapShape(type: .bloomFilter, keySize: 4, valueSize: 4, maxEntries: 4)) }
    }
}

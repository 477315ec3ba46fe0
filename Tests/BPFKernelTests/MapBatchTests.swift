import BPFCore
import BPFKernel
import BPFMaps
import BPFObject
import BPFTestSupport
import Foundation
import Testing

private let kernelReason = KernelSupport.unavailableReason

private func map(type: MapType, keySize: Int = 4, valueSize: Int = 8, maxEntries: Int = 2048, flags: MapFlags = []) throws -> KernelMap {
    try KernelMap(
        MapDefinition(
            name: "batch_test", type: type, keySize: keySize, valueSize: valueSize, maxEntries: maxEntries,
            flags: flags, section: ".maps", offset: 0))
}

private func bytes(_ value: UInt64, _ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }

/// Entries in a stable order, for comparing sets.
private func sorted(_ entries: [(key: [UInt8], value: [UInt8])]) -> [[UInt8]] {
    entries.map { $0.key + $0.value }.sorted { $0.lexicographicallyPrecedes($1) }
}

@Suite("Batched map operations", .serialized, .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")))
struct MapBatchTests {
    /// 1,000 entries stored in one call read back the same in batches of 256, of 1 (which
    /// hash buckets outgrow, so the batch is grown), and key by key.
    @Test("a hash map's entries go in with one batch update and come back in batches", arguments: [MapType.hash, .percpuHash])
    func hashMap(type: MapType) throws {
        let hash = try map(type: type)
        let valueSize = hash.valueBufferSize  // every CPU's value for the per-CPU hash
        let entries = (0..<1000).map { (key: bytes(UInt64($0) &* 2_654_435_761, 4), value: bytes(UInt64($0) * 3 + 1, valueSize)) }
        try hash.update(batch: entries)
        #expect(sorted(try #require(try hash.entriesInBatches(256))) == sorted(entries))
        #expect(sorted(try #require(try hash.entriesInBatches(1))) == sorted(entries))
        #expect(sorted(try hash.entriesOneByOne()) == sorted(entries))
    }

    /// An array reads back in index order, including the entries never written (zero).
    @Test("an array map's entries come back in batches, in order")
    func arrayMap() throws {
        let array = try map(type: .array, maxEntries: 100)
        let written = (0..<100).filter { $0 % 3 == 0 }.map { (key: bytes(UInt64($0), 4), value: bytes(UInt64($0) << 32 | 7, 8)) }
        try array.update(batch: written)
        let all = try #require(try array.entriesInBatches(16))
        #expect(all.map(\.key) == (0..<100).map { bytes(UInt64($0), 4) })
        let expected: [[UInt8]] = (0..<100).map { (i: Int) -> [UInt8] in i % 3 == 0 ? bytes(UInt64(i) << 32 | 7, 8) : bytes(0, 8) }
        #expect(all.map(\.value) == expected)
    }

    /// An LPM trie reads back in batches too; a program array has no batches in the kernel, so
    /// entries() reads it key by key (a slot's value is its program's id).
    @Test("a trie is read in batches, a program array key by key")
    func trieAndFallback() throws {
        let trie = try map(type: .lpmTrie, keySize: 8, valueSize: 8, maxEntries: 16, flags: .noPrealloc)
        let prefixes = [(key: [24, 0, 0, 0, 10, 1, 2, 0] as [UInt8], value: bytes(1, 8)), (key: [32, 0, 0, 0, 10, 1, 2, 3] as [UInt8], value: bytes(2, 8))]
        for (key, value) in prefixes { try trie.update(key, value) }
        #expect(sorted(try #require(try trie.entriesInBatches(256))) == sorted(prefixes))

        let programs = try map(type: .progArray, keySize: 4, valueSize: 4, maxEntries: 4)
        let program = try KernelProgram(type: .xdp, instructions: [Instruction(opcode: 0xb7, imm: 2), Instruction(opcode: 0x95)])
        try programs.update(bytes(2, 4), bytes(UInt64(program.fd), 4))
        #expect(try programs.entriesInBatches(256) == nil)
        let id = try #require(Inventory.program(fd: program.fd)?.id)
        #expect(sorted(try programs.entries()) == [bytes(2, 4) + bytes(UInt64(id), 4)])
    }

    /// Refusals name what was wrong: sizes that do not match, and a key past an array's end
    /// (with how many entries were stored before it, which stay).
    @Test("a batch update with wrong sizes or a key out of range is refused")
    func refusals() throws {
        let hash = try map(type: .hash)
        let wrong = #expect(throws: KernelError.self) { try hash.update(batch: [(key: [1, 2, 3], value: bytes(0, 8))]) }
        #expect(wrong?.errno == .EINVAL && wrong?.operation.contains("keys must be 4 bytes") == true)
        let array = try map(type: .array, maxEntries: 10)
        let batch = [(key: bytes(1, 4), value: bytes(11, 8)), (key: bytes(2, 4), value: bytes(12, 8)), (key: bytes(10, 4), value: bytes(13, 8))]
        let outside = #expect(throws: KernelError.self) { try array.update(batch: batch) }
        #expect(outside?.errno == .E2BIG && outside?.operation.contains("2 of 3 stored") == true, "\(String(describing: outside))")
        #expect(try array.lookup(bytes(2, 4)) == bytes(12, 8))
    }
}

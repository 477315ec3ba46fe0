import BPFCore
import BPFMaps
import Dispatch
import Testing

private func ring(_ size: Int = 4096) throws -> RingBufferMap {
    try #require(try BPFMap.make(name: "events", shape: MapShape(type: MapType.ringbuf, keySize: 0, valueSize: 0, maxEntries: size)) as? RingBufferMap)
}

private func drain(_ rb: RingBufferMap) -> [[UInt8]] {
    var out: [[UInt8]] = []
    rb.consume { out.append(Array($0)) }
    return out
}

@Suite("Ring buffer")
struct RingBufferTests {
    @Test("records come out in order; discarded and unfinished ones are not seen")
    func order() throws {
        let rb = try ring()
        let a = try #require(rb.reserve(3)), b = try #require(rb.reserve(5)), c = try #require(rb.reserve(1))
        a.copyMemory(from: [1, 2, 3] as [UInt8], byteCount: 3)
        b.copyMemory(from: [4, 4, 4, 4, 4] as [UInt8], byteCount: 5)
        c.storeBytes(of: 9, as: UInt8.self)
        rb.commit(a)
        rb.commit(c)
        #expect(drain(rb) == [[1, 2, 3]])  // b is still busy: consumption stops there
        rb.commit(b, discard: true)
        #expect(drain(rb) == [[9]])
        #expect(rb.pending == 0)
        #expect([UInt8](repeating: 7, count: 10).withUnsafeBytes { rb.output($0.baseAddress!, size: 10) } == 0)
        #expect(drain(rb) == [[UInt8](repeating: 7, count: 10)])
    }

    @Test("a full ring refuses, and records stay contiguous across its end")
    func wrap() throws {
        let rb = try ring()
        var written = 0
        while let record = rb.reserve(1000) {
            record.initializeMemory(as: UInt8.self, repeating: UInt8(written), count: 1000)
            rb.commit(record)
            written += 1
        }
        #expect(written == 4)  // 4 x 1008 bytes fit in 4096; a fifth does not
        #expect(drain(rb).count == 4)
        for round in 0..<50 {
            let record = try #require(rb.reserve(700 + round))
            record.initializeMemory(as: UInt8.self, repeating: UInt8(round), count: 700 + round)
            rb.commit(record)
            #expect(drain(rb) == [[UInt8](repeating: UInt8(round), count: 700 + round)])
        }
    }

    @Test("many producers and one consumer: every record arrives once, intact, in each producer's order")
    func concurrency() throws {
        let rb = try ring(1 << 16)
        let producers = 3, perProducer = 3000
        /// Written by the consumer thread only; read after it signals.
        final class Seen: @unchecked Sendable { var sequences: [[UInt32]] = [] }
        let seen = Seen()
        seen.sequences = Array(repeating: [], count: producers)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            var received = 0
            while received < producers * perProducer {
                received += rb.consume { record in
                    let producer = Int(record.load(as: UInt32.self)), sequence = record.load(fromByteOffset: 4, as: UInt32.self)
                    #expect(record.count == 8 + producer * 4)
                    seen.sequences[producer].append(sequence)
                }
            }
            done.signal()
        }
        DispatchQueue.concurrentPerform(iterations: producers) { p in
            var i: UInt32 = 0
            while i < perProducer {
                guard let record = rb.reserve(8 + p * 4) else { continue }  // full: the consumer will catch up
                record.storeBytes(of: UInt32(p), as: UInt32.self)
                record.storeBytes(of: i, toByteOffset: 4, as: UInt32.self)
                rb.commit(record)
                i += 1
            }
        }
        done.wait()
        for p in 0..<producers { #expect(seen.sequences[p] == (0..<UInt32(perProducer)).map { $0 }) }
    }

    @Test("shapes the kernel refuses are refused")
    func shapes() {
        for size in [0, 1000, 4097, 6144] {
            #expect(throws: MapError.self) {
                _ = try BPFMap.make(name: "r", shape: MapShape(type: MapType.ringbuf, keySize: 0, valueSize: 0, maxEntries: size))
            }
        }
        #expect(throws: MapError.self) { _ = try BPFMap.make(name: "r", shape: MapShape(type: MapType.ringbuf, keySize: 4, valueSize: 0, maxEntries: 4096)) }
    }
}

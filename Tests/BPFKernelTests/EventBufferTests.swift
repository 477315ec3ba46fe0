import BPFBenchmarks
import BPFKernel
import BPFObject
import BPFTestSupport
import Foundation
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason

/// An XDP program that sends a 24-byte record {sequence, CPU, tag} on each run: to a perf event
/// array on the running CPU, and to two ring buffers (tagged 'A' and 'B'). Failed sends are
/// counted in `.bss`.
private let producer = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, 4); __uint(value_size, 4); } perf SEC(".maps");
    struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 16); } ring_a SEC(".maps");
    struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 16); } ring_b SEC(".maps");
    __u64 sequence, perf_failed;
    const volatile int rings = 0;
    SEC("xdp") int produce(struct xdp_md *ctx) {
        __u64 record[3] = { ++sequence, bpf_get_smp_processor_id(), 'P' };
        if (bpf_perf_event_output(ctx, &perf, BPF_F_CURRENT_CPU, record, sizeof(record)) != 0) perf_failed++;
        if (rings) {
            record[2] = 'A';
            bpf_ringbuf_output(&ring_a, record, sizeof(record), 0);
            record[2] = 'B';
            bpf_ringbuf_output(&ring_b, record, sizeof(record), 0);
        }
        return XDP_PASS;
    }
    char LICENSE[] SEC("license") = "GPL";
    """

private struct Producer {
    let object: KernelObject
    let program: KernelProgram

    init(rings: Bool) throws {
        let text = producer.replacingOccurrences(of: "rings = 0", with: "rings = \(rings ? 1 : 0)")
        object = try KernelObject(try ObjectFile(bytes: try BPFCompiler.compile(text: text, name: "events.bpf.c")))
        program = try object.load()
    }

    func map(_ name: String) throws -> KernelMap { try #require(object.map(named: name)) }

    func run(_ times: UInt32) throws { _ = try program.testRun(data: Array(repeating: 0, count: 64), repeat: times) }

    func bss(_ index: Int) throws -> UInt64 {
        littleEndianValue(try #require(try map(".bss").lookup([0, 0, 0, 0])).dropFirst(8 * index).prefix(8))
    }
}

/// A record's fields (perf records are 4-byte aligned: they follow a 32-bit size).
private func record(_ bytes: UnsafeRawBufferPointer) -> (sequence: UInt64, cpu: UInt64, tag: UInt64) {
    (bytes.loadUnaligned(as: UInt64.self), bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self), bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
}

@Suite("Perf buffers and polling several buffers", .serialized)
struct EventBufferTests {
    /// Records arrive in order with the CPU that sent them, including records that wrap the
    /// end of a one-page ring (40 bytes each do: 4096 is no multiple of 40).
    @Test(
        "a perf buffer delivers each record with its CPU, across the ring's wrap",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func perfRecords() throws {
        let producer = try Producer(rings: false)
        let buffer = try KernelPerfBuffer(try producer.map("perf"), pagesPerCPU: 1)
        #expect(!buffer.descriptors.isEmpty)
        var seen: [Int: [UInt64]] = [:]
        for _ in 0..<4 {
            try producer.run(60)
            #expect(buffer.wait(milliseconds: 1000))
            buffer.consume { cpu, bytes in
                #expect(bytes.count >= 24)
                let r = record(bytes)
                #expect(r.cpu == UInt64(cpu) && r.tag == UInt64(UInt8(ascii: "P")))
                seen[cpu, default: []].append(r.sequence)
            }
        }
        // In order on each CPU; a run can move between CPUs when the kernel reschedules it.
        for (cpu, sequence) in seen { #expect(sequence == sequence.sorted(), "out of order on CPU \(cpu)") }
        #expect(seen.values.joined().sorted() == Array(1...240), "\(seen.values.joined().count) records")
        #expect(try buffer.lost == 0 && producer.bss(1) == 0)
    }

    /// A full ring drops records; the kernel reports how many in a LOST record once there is
    /// room, and every record is either delivered or counted lost.
    @Test(
        "records dropped on a full perf ring are counted as lost",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func perfLost() throws {
        let producer = try Producer(rings: false)
        let buffer = try KernelPerfBuffer(try producer.map("perf"), pagesPerCPU: 1)
        // Every run on one CPU: the LOST record comes with the next record on the full ring.
        #expect(KernelSupport.bindThread(toCPU: 0))
        defer { KernelSupport.bindThread(toCPU: nil) }
        var delivered = 0
        try producer.run(500)
        delivered += buffer.consume { _, _ in }
        // The LOST record comes with the next record on the full CPU's ring.
        try producer.run(1)
        delivered += buffer.consume { _, _ in }
        let failed = try producer.bss(1)
        #expect(failed > 0, "a one-page ring held 500 records")
        #expect(buffer.lost == failed, "the kernel's LOST records say \(buffer.lost), the program saw \(failed) failures")
        #expect(UInt64(delivered) + buffer.lost == 501)
    }

    /// One poller over two ring buffers and a perf buffer hands each its own records.
    @Test(
        "one poller drains two ring buffers and a perf buffer into their own handlers",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func pollerOverSeveralBuffers() throws {
        let producer = try Producer(rings: true)
        let perf = try KernelPerfBuffer(try producer.map("perf"))
        let ringA = try KernelRingBuffer(try producer.map("ring_a")), ringB = try KernelRingBuffer(try producer.map("ring_b"))
        let poller = try EventPoller()
        final class Seen { var tags: [UInt8: [UInt64]] = [:] }
        let seen = Seen()
        try poller.add(ringA) { seen.tags[UInt8(record($0).tag), default: []].append(record($0).sequence) }
        try poller.add(ringB, limit: 7) { seen.tags[UInt8(record($0).tag), default: []].append(record($0).sequence) }
        try poller.add(perf) { _, bytes in seen.tags[UInt8(record(bytes).tag), default: []].append(record(bytes).sequence) }
        #expect(try poller.poll(milliseconds: 0) == 0, "records before any were sent")

        try producer.run(100)
        var rounds = 0
        while seen.tags.values.reduce(0, { $0 + $1.count }) < 300, rounds < 100 {
            try poller.poll(milliseconds: 1000)
            rounds += 1
        }
        #expect(seen.tags[UInt8(ascii: "A")] == Array(1...100))
        #expect(seen.tags[UInt8(ascii: "B")] == Array(1...100))
        #expect(seen.tags[UInt8(ascii: "P")]?.sorted() == Array(1...100))  // per CPU, so sorted
        #expect(rounds >= 100 / 7, "ring B's limit of 7 a wake-up was not kept (\(rounds) polls)")
    }
}

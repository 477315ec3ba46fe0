import BPFBenchmarks
import BPFCore
import BPFKernel
import BPFObject
import BPFPlatform

extension Benchmark {
    /// Ring buffer consumer throughput: a kernel program fills a `BPF_MAP_TYPE_RINGBUF` of
    /// `1 << ringShift` bytes with `records` records of 16 bytes (BPF_PROG_TEST_RUN repeated),
    /// then a consumer drains them all — ours (``KernelRingBuffer``) in this process, and
    /// libbpf's `ring_buffer__poll` in a small C program built against the installed libbpf —
    /// each checked to see every record. Best of `rounds` drains each; the producer's time is
    /// not counted.
    func benchRingBuffer(records: Int, ringShift: Int) throws {
        guard BPFCompiler.unavailableReason == nil else {
            output("ring buffer: skipped: no clang to compile the producer")
            return
        }
        let producer = """
            #include <linux/bpf.h>
            #include <bpf/bpf_helpers.h>
            struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << \(ringShift)); } events SEC(".maps");
            __u64 sequence;
            SEC("xdp") int produce(struct xdp_md *ctx) {
                __u64 event[2] = { ++sequence, 0 };
                return bpf_ringbuf_output(&events, event, sizeof(event), 0) == 0 ? XDP_PASS : XDP_DROP;
            }
            char LICENSE[] SEC("license") = "GPL";
            """
        let object = try KernelObject(try ObjectFile(bytes: try BPFCompiler.compile(text: producer, name: "ringbuf_producer.bpf.c")))
        let program = try object.load()
        guard let map = object.maps.first(where: { $0.definition.type == .ringbuf }) else { throw BenchmarkError.failed("the producer has no ring buffer") }
        let ring = try KernelRingBuffer(map)
        var expectedSum: UInt64 = 0
        func fill() throws {
            let before = try littleEndian(object.map(named: ".bss")?.lookup([0, 0, 0, 0]) ?? [])
            let run = try program.testRun(data: BenchmarkPrograms.packet, repeat: UInt32(records))
            guard run.returnValue == 2 else { throw BenchmarkError.failed("ring buffer: the producer could not reserve a record") }
            // Sequence numbers before+1 … before+records.
            expectedSum = UInt64(records) * before + UInt64(records) * UInt64(records + 1) / 2
        }

        let ours = try best {
            try fill()
            var count = 0, sum: UInt64 = 0
            let start = monotonicNanoseconds()
            while count < records {
                guard ring.wait(milliseconds: 1000) else { break }
                count += ring.consume { sum &+= $0.load(as: UInt64.self) }
            }
            let elapsed = Double(monotonicNanoseconds() - start)
            guard count == records, sum == expectedSum else {
                throw BenchmarkError.failed("ring buffer: ours drained \(count) records, checksum \(sum) (want \(records), \(expectedSum))")
            }
            return elapsed / Double(records)
        }
        var line =
            "ring buffer drain, \(records) records of 16 B in \(1 << (ringShift - 20)) MiB: ours \(format1(ours)) ns/record (\(format1(1e3 / ours)) M records/s)"

        if let theirs = try libbpfDrain(map: map, records: records, fill: fill, expectedSum: { expectedSum }) {
            line +=
                ", libbpf ring_buffer__poll \(format1(theirs)) ns/record (\(format1(1e3 / theirs)) M records/s), ours/libbpf \(format2(ours / theirs))x time"
        }
        output(line)
    }

    /// libbpf's drain of the same ring, pinned for a C consumer; nil (with the reason printed)
    /// where libbpf's headers or library are missing.
    private func libbpfDrain(map: KernelMap, records: Int, fill: () throws -> Void, expectedSum: () -> UInt64) throws -> Double? {
        guard let binary = try libbpfPeer("libbpf_ringbuf_drain", source: LibbpfPeers.ringbufDrain, output: output) else { return nil }
        defer { removeTree(binary) }
        let pin = Pinning.root + "/swiftbpf-bench-ringbuf-\(getpid())"
        try map.pin(at: pin)
        defer { unlink(pin) }
        return try best {
            try fill()
            guard let output = referenceToolOutput(binary, [pin, String(records)]) else { throw BenchmarkError.failed("the libbpf consumer failed") }
            let fields = output.split(whereSeparator: \.isWhitespace).compactMap { UInt64($0) }
            guard fields.count == 3, fields[0] == UInt64(records), fields[2] == expectedSum() else {
                throw BenchmarkError.failed("the libbpf consumer reported '\(output)'")
            }
            return Double(fields[1]) / Double(records)
        }
    }
}

/// A libbpf peer (one of ``LibbpfPeers``, named `name`) built for this run: its path (the
/// caller removes it), or nil (with the reason printed) where libbpf's headers or library are missing.
func libbpfPeer(_ name: String, source text: String, output: (String) -> Void) throws -> String? {
    let binary = temporaryDirectory + "/swiftbpf-\(name)-\(getpid())", source = binary + ".c"
    guard writeFile(source, Array(text.utf8)) else { throw BenchmarkError.failed("cannot write \(source)") }
    defer { unlink(source) }
    guard referenceToolOutput("clang", ["-O2", source, "-lbpf", "-o", binary]) != nil else {
        output("\(name): libbpf peer skipped: it does not build against libbpf (apt-get install libbpf-dev)")
        return nil
    }
    return binary
}

func littleEndian(_ bytes: [UInt8]) -> UInt64 {
    bytes.prefix(8).enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * $1.offset) }
}

import BPFBenchmarks
import BPFPlatform
import SwiftBPF
import Testing

private let compilerReason = BPFCompiler.unavailableReason

/// Two 32-bit words, as the program below writes them.
private struct Pair: BPFValue, Equatable {
    static var byteCount: Int { 8 }
    var first: UInt32, second: UInt32
    init(first: UInt32, second: UInt32) { (self.first, self.second) = (first, second) }
    init(bpfBytes bytes: ArraySlice<UInt8>) {
        first = UInt32(bpfBytes: bytes)
        second = UInt32(bpfBytes: bytes.dropFirst(4))
    }
    var bpfBytes: [UInt8] { first.bpfBytes + second.bpfBytes }
}

/// Ring buffer and perf event array records read as typed values, on both backends.
@Suite("Map events", .serialized, .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
struct MapEventsTests {
    @Test("the records a program outputs come back as values, in order, from a ring buffer and a perf event array", arguments: Backend.allCases)
    func records(backend: Backend) throws {
        let object = try OpenedObject(
            bytes: try BPFCompiler.compile(
                text: """
                    #include <linux/bpf.h>
                    #include <bpf/bpf_helpers.h>
                    struct pair { __u32 first, second; };
                    struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } ring SEC(".maps");
                    struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, 4); __uint(value_size, 4); } perf SEC(".maps");
                    __u32 runs;
                    SEC("xdp") int emit(struct xdp_md *ctx) {
                        struct pair p = { ++runs, 0xabcd };
                        bpf_ringbuf_output(&ring, &p, sizeof(p), 0);
                        p.second = 0x1234;
                        bpf_perf_event_output(ctx, &perf, BPF_F_CURRENT_CPU, &p, sizeof(p));
                        return XDP_PASS;
                    }
                    char LICENSE[] SEC("license") = "GPL";
                    """, name: "map-events.bpf.c"))
        let loaded: any LoadedObject
        do { loaded = try object.load(on: backend) } catch {
            if case .unsupported = error { return }  // the kernel backend, where bpf(2) is not permitted
            throw error
        }
        let ring = try MapEvents<Pair>(try loaded.map(named: "ring"))
        let perf = try MapEvents<Pair>(try loaded.map(named: "perf"))
        let program = try loaded.program(named: "emit")
        for _ in 0..<3 { _ = try program.testRun(data: [UInt8](repeating: 0, count: 64)) }
        #expect(ring.drain() == (1...3).map { Pair(first: $0, second: 0xabcd) })
        #expect(perf.drain() == (1...3).map { Pair(first: $0, second: 0x1234) })
        #expect(ring.drain().isEmpty, "drained")
        #expect(throws: BPFError.self) { try MapEvents<Pair>(try loaded.map(named: ".bss")) }
    }
}

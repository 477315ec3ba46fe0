import BPFBenchmarks
import BPFObject
import BPFTestSupport
import Testing

@testable import BPFSkeleton

private let compilerReason = BPFCompiler.unavailableReason

/// A program whose BTF has what the generator maps: structs, a union, bitfields, an enum,
/// arrays, char arrays, typedefs, globals in .rodata, .data and .bss, and typed and untyped maps.
private let source = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    enum state { IDLE = 0, BUSY = 7, GONE = -1 };
    typedef struct { __u32 lo, hi; } pair_t;
    struct flow_key { __u32 saddr; __u16 sport; __u8 proto; unsigned flag : 1, kind : 3; };
    struct stats { __u64 packets, bytes; enum state state; union { __u32 word; __u8 octets[4]; } u; char name[16]; pair_t pair; __u32 slots[4]; };
    struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8); __type(key, struct flow_key); __type(value, struct stats); } flows SEC(".maps");
    struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } counters SEC(".maps");
    struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } events SEC(".maps");
    struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, 4); __uint(value_size, 4); } samples SEC(".maps");
    const volatile __u32 min_size = 64;
    __u64 seen = 1;
    __u32 dropped;
    SEC("xdp") int count_flows(struct xdp_md *ctx) {
        struct flow_key k = {};
        struct stats *s = bpf_map_lookup_elem(&flows, &k);
        if (s && ctx->data_end - ctx->data > min_size) { s->packets++; seen++; dropped++; }
        return XDP_PASS;
    }
    char LICENSE[] SEC("license") = "GPL";
    """

@Suite("Skeleton generator", .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
struct SkeletonGeneratorTests {
    @Test("every kind of type a map or global uses becomes a struct with its fields at BTF's offsets")
    func generatesTypes() throws {
        let bytes = try BPFCompiler.compile(text: source, name: "skeleton-kinds.bpf.c")
        let text = try SkeletonGenerator(object: ObjectFile(bytes: bytes), bytes: bytes, name: "kinds", source: "kinds.bpf.o").generate()
        for expected in [
            "public struct Kinds: Sendable", "public let flows: TypedMap<FlowKey, Stats>", "public let counters: TypedMap<UInt32, UInt64>",
            "public let events: any LoadedMap", "public func eventsRecords<Event: BPFValue>", "MapEvents<Event>", "public func samplesRecords<Event: BPFValue>",
            "public struct FlowKey: BPFValue",
            "public var sport: UInt16", "public var flag: UInt32 {", "BPFLayout.readBits(bpfBytes, bitOffset: 56, size: 1)",
            "public struct State: BPFValue, RawRepresentable", "public static let gone = State(rawValue: -1)", "public var word: UInt32",
            "public var octets: [UInt8]", "public var nameString: String", "public var pair: PairT", "public struct PairT",
            "public var slots: [UInt32]", "public var minSize: UInt32", "public mutating func setRodata(_ value: Rodata)",
            "public func data() throws(BPFError) -> Data", "public func bss() throws(BPFError) -> Bss", "case countFlows = \"count_flows\"",
            "(\"packets\", 0), (\"bytes\", 64)",
        ] {
            #expect(text.contains(expected), "missing: \(expected)")
        }
    }

    @Test("an object without BTF or programs, or an unknown --type, is an error naming it")
    func refusals() throws {
        let bytes = try BPFCompiler.compile(text: source, name: "skeleton-refusals.bpf.c")
        let object = try ObjectFile(bytes: bytes)
        #expect(throws: SkeletonError.self) { try SkeletonGenerator(object: object, bytes: bytes, name: "x", source: "x.o", extraTypes: ["nope"]).generate() }
    }

    /// Mutants of the object's BTF: the generator gives source or an error, never a crash or
    /// a hang (cycles, ids out of range, absurd sizes).
    @Test("mutated BTF: source or an error, never a crash")
    func mutatedBTF() throws {
        let original = try BPFCompiler.compile(text: source, name: "skeleton-fuzz.bpf.c")
        let btf = try #require(try ObjectFile(bytes: original).elf.section(named: ".BTF"))
        var rng = SplitMix64(state: 0x5ce1)
        var generated = 0, refused = 0
        for _ in 0..<1500 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let at = btf.offset + 24 + Int.random(in: 0..<(btf.size - 24), using: &rng)
                bytes[at] = [0, 0xff, 1, UInt8.random(in: 0...255, using: &rng)].randomElement(using: &rng)!
            }
            guard let object = try? ObjectFile(bytes: bytes) else {
                refused += 1
                continue
            }
            do {
                _ = try SkeletonGenerator(object: object, bytes: bytes, name: "mutant", source: "mutant.o").generate()
                generated += 1
            } catch {
                #expect(!error.description.isEmpty)
                refused += 1
            }
        }
        #expect(generated > 100 && refused > 10, "generated \(generated), refused \(refused)")
    }
}

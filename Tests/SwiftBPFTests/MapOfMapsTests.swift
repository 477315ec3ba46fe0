import BPFBenchmarks
import SwiftBPF
import Testing

private let compilerReason = BPFCompiler.unavailableReason
private let kernelReason = KernelSupport.unavailableReason

private let source = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    struct inner { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); };
    struct inner first SEC(".maps"), second SEC(".maps");
    struct {
        __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); __uint(max_entries, 2); __type(key, __u32); __array(values, struct inner);
    } outer SEC(".maps") = { .values = { [0] = &first, [1] = &second } };
    struct {
        __uint(type, BPF_MAP_TYPE_HASH_OF_MAPS); __uint(max_entries, 8); __type(key, __u32); __array(values, struct inner);
    } by_id SEC(".maps") = { .values = { [3] = &first } };
    static __u64 *slot(void *maps, __u32 which) { void *m = bpf_map_lookup_elem(maps, &which); if (!m) return 0; __u32 z = 2; return bpf_map_lookup_elem(m, &z); }
    SEC("xdp") int counts(struct xdp_md *ctx) {
        __u64 *a = slot(&outer, 1), *b = slot(&by_id, 3);
        if (!a || !b) return 1;
        *a += 5; *b += 7;
        return 3;
    }
    SEC("xdp") int unchecked(struct xdp_md *ctx) {
        __u32 k = 0, z = 0;
        void *m = bpf_map_lookup_elem(&outer, &k);
        __u64 *v = bpf_map_lookup_elem(m, &z);
        return v ? 1 : 0;
    }
    SEC("xdp") int past_value(struct xdp_md *ctx) { __u64 *v = slot(&outer, 0); return v ? v[1] : 0; }
    SEC("xdp") int writes_outer(struct xdp_md *ctx) { __u32 k = 0; __u32 fd = 1; return bpf_map_update_elem(&outer, &k, &fd, 0); }
    char LICENSE[] SEC("license") = "GPL";
    """

/// Maps of maps (`BPF_MAP_TYPE_ARRAY_OF_MAPS`, `…_HASH_OF_MAPS`): inner shapes from
/// `__array(values, …)`, slots from `.values` initialisers, lookups verified as the kernel
/// verifies them (the result is a map once checked for NULL), and run on both backends.
@Suite("Maps of maps", .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
struct MapOfMapsTests {
    private func object() throws -> OpenedObject { try OpenedObject(bytes: try BPFCompiler.compile(text: source, name: "mapofmaps.bpf.c")) }

    @Test("verdicts against the kernel's", .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")))
    func verdicts() throws {
        let file = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "mapofmaps.bpf.c"))
        let results = VerdictComparison.compare(file, target: nil)
        #expect(results.categories == ["counts": "A", "unchecked": "B", "past_value": "B", "writes_outer": "B"], "\(results)")
        #expect(results.ours["unchecked"] == "R1 type=map_value_or_null expected=map_ptr")
        #expect(results.ours["past_value"]?.hasPrefix("invalid access to map value, value_size=8 off=8 size=8") == true)
    }

    @Test("the same run on each backend: the maps held are the ones the initialisers named")
    func runs() throws {
        let object = try object()
        var backends = [Backend.userspace]
        if kernelReason == nil { backends.append(.kernel) }
        for backend in backends {
            let loaded = try object.load(on: backend)
            let run = try loaded.program(named: "counts").testRun(data: [UInt8](repeating: 0, count: 64), repeat: 2)
            #expect(run.returnValue == 3, "\(backend)")
            let two: [UInt8] = [2, 0, 0, 0]
            #expect(try loaded.map(named: "second").lookup(two) == [10, 0, 0, 0, 0, 0, 0, 0], "\(backend)")
            #expect(try loaded.map(named: "first").lookup(two) == [14, 0, 0, 0, 0, 0, 0, 0], "\(backend)")
        }
    }
}

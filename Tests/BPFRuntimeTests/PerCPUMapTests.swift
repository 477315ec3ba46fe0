import BPFPlatform
import BPFBenchmarks
import BPFKernel
import BPFTestSupport
import BPFCore
import BPFMaps
import BPFObject
import BPFRuntime
import BPFVM
import BPFVerifier
import BTF
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason

private let source = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } packets SEC(".maps");
    struct { __uint(type, BPF_MAP_TYPE_PERCPU_HASH); __uint(max_entries, 16); __type(key, __u32); __type(value, __u32); } bytes SEC(".maps");
    SEC("xdp") int count(struct xdp_md *ctx) {
        void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
        if (data + 1 > end) return XDP_ABORTED;
        __u32 key = *(__u8 *)data & 3, len = end - data;
        __u64 *n = bpf_map_lookup_elem(&packets, &key);
        if (n) *n += 1;
        __u32 *b = bpf_map_lookup_elem(&bytes, &key);
        if (b) *b += len; else bpf_map_update_elem(&bytes, &key, &len, BPF_NOEXIST);
        return XDP_PASS;
    }
    char LICENSE[] SEC("license") = "GPL";
    """

@Suite("Per-CPU maps")
struct PerCPUMapTests {
    /// Runs may land on any CPU, so the comparison is of each key's sum over all CPUs.
    @Test(
        "per-CPU counters sum to the kernel's",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func againstKernel() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "percpu.bpf.c"))
        let kernel = try KernelObject(object), ours = try UserspaceObject(object)
        let kernelProgram = try kernel.load(), ourProgram = try ours.load()
        var rng = SplitMix64(state: 3)
        for _ in 0..<200 {
            let packet = [UInt8(rng.below(256))] + [UInt8](repeating: 1, count: 20 + rng.below(60))
            _ = try kernelProgram.testRun(data: packet)
            _ = try ourProgram.testRun(data: packet)
        }
        func sum(_ values: [[UInt8]]) -> UInt64 {
            values.reduce(0) { $0 + littleEndianValue($1) }
        }
        var compared: UInt64 = 0
        for (kernelMap, ourMap) in zip(kernel.maps, ours.maps) {
            let perCPU = try #require(ourMap as? PerCPUMap)
            for key in (0..<4).map({ (k: UInt32) in withUnsafeBytes(of: k.littleEndian) { Array($0) } }) {
                let theirs = try kernelMap.lookup(key).map { raw in
                    (0..<PossibleCPUs.count).map { Array(raw[($0 * perCPU.stride)..<($0 * perCPU.stride + perCPU.shape.valueSize)]) }
                }
                let mine = try perCPU.lookupAll(key)
                #expect((theirs.map(sum) ?? 0) == (mine.map(sum) ?? 0), "\(ourMap.name) key \(key[0])")
                #expect((theirs == nil) == (mine == nil))
                compared += mine.map(sum) ?? 0
            }
        }
        #expect(compared > 200)  // 200 packets counted, plus their bytes
        #expect(try #require(try (ours.maps[0] as? PerCPUMap)?.lookupAll([0, 0, 0, 0])).count == PossibleCPUs.count)
    }
}

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

/// Looks up the packet's destination address (bytes 30-33) in a routing table.
private let source = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    struct route { __u32 prefixlen; __u8 addr[4]; };
    struct { __uint(type, BPF_MAP_TYPE_LPM_TRIE); __uint(max_entries, 256); __type(key, struct route); __type(value, __u32);
             __uint(map_flags, BPF_F_NO_PREALLOC); } routes SEC(".maps");
    SEC("xdp") int route(struct xdp_md *ctx) {
        void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
        if (data + 34 > end) return 0;
        struct route key = { .prefixlen = 32 };
        __builtin_memcpy(key.addr, data + 30, 4);
        __u32 *hop = bpf_map_lookup_elem(&routes, &key);
        return hop ? *hop : 0xffff;
    }
    char LICENSE[] SEC("license") = "GPL";
    """

@Suite("LPM trie")
struct LPMTrieTests {
    @Test(
        "longest-prefix lookups agree with the kernel's trie",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func againstKernel() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "lpm.bpf.c"))
        let kernel = try KernelObject(object), ours = try UserspaceObject(object)
        let kernelRoutes = try #require(kernel.maps.first), ourRoutes = try #require(ours.map(named: "routes"))
        var rng = SplitMix64(state: 11)
        // Routes over a small address space (10.x.y.z with few x), so prefixes nest and overlap.
        for hop in 0..<80 {
            let prefix = UInt32([8, 12, 16, 20, 24, 28, 32][rng.below(7)])  // no /0 default route: 11.x.x.x can miss
            let key = withUnsafeBytes(of: prefix.littleEndian) { Array($0) } + [10, UInt8(rng.below(4)), UInt8(rng.below(256)), UInt8(rng.below(256))]
            let value = withUnsafeBytes(of: UInt32(hop).littleEndian) { Array($0) }
            try kernelRoutes.update(key, value)
            try ourRoutes.update(key, value)
        }
        // Delete a few through both, by their exact prefixes.
        for key in try kernelRoutes.keys().prefix(10) {
            try kernelRoutes.delete(key)
            try ourRoutes.delete(key)
        }
        let kernelProgram = try kernel.load(), ourProgram = try ours.load()
        var hits = 0
        for _ in 0..<500 {
            var packet = BenchmarkPrograms.packet
            packet.replaceSubrange(30..<34, with: [[10, 11][rng.below(2)], UInt8(rng.below(5)), UInt8(rng.below(256)), UInt8(rng.below(256))])
            let expected = try kernelProgram.testRun(data: packet).returnValue
            #expect(try ourProgram.testRun(data: packet, mode: .jit).returnValue == expected, "JIT")
            #expect(try ourProgram.testRun(data: packet).returnValue == expected, "address \(packet[30...33].map(String.init).joined(separator: "."))")
            if expected != 0xffff { hits += 1 }
        }
        #expect(hits > 100 && hits < 500)
    }
}

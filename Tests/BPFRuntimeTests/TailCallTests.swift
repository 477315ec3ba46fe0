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
    struct { __uint(type, BPF_MAP_TYPE_PROG_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u32); } jumps SEC(".maps");
    struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } hops SEC(".maps");
    SEC("xdp") int entry(struct xdp_md *ctx) {
        void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
        if (data + 1 > end) return XDP_ABORTED;
        bpf_tail_call(ctx, &jumps, *(__u8 *)data);
        return XDP_PASS;  /* empty slot, or out of range */
    }
    SEC("xdp") int target(struct xdp_md *ctx) { return XDP_TX; }
    SEC("xdp") int chain(struct xdp_md *ctx) {
        __u32 zero = 0;
        __u64 *n = bpf_map_lookup_elem(&hops, &zero);
        if (!n) return XDP_ABORTED;
        *n += 1;
        bpf_tail_call(ctx, &jumps, 1);  /* itself, until the limit */
        return 100 + *n;
    }
    char LICENSE[] SEC("license") = "GPL";
    """

@Suite("Tail calls", .serialized)
struct TailCallTests {
    @Test(
        "tail calls reach their targets, stop at the kernel's limit, and fall through like the kernel's",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func againstKernel() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "tailcall.bpf.c"))
        let kernel = try KernelObject(object)
        let kernelEntry = try kernel.load(program: "entry")
        let kernelTarget = try kernel.load(program: "target"), kernelChain = try kernel.load(program: "chain")
        let jumps = try #require(kernel.map(named: "jumps"))
        func le(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        try jumps.update(le(0), le(UInt32(kernelTarget.fd)))
        try jumps.update(le(1), le(UInt32(kernelChain.fd)))

        let selectors: [UInt8] = [0, 1, 2, 9, 1]
        let packets = selectors.map { [$0] + Array(BenchmarkPrograms.packet.dropFirst()) }
        let results = try packets.map { try kernelEntry.testRun(data: $0).returnValue }
        // Each engine on a fresh object, since the chain counts its hops in a map.
        for mode in [ExecutionMode.checked(), .jit] {
            let ours = try UserspaceObject(object)
            let entry = try ours.load(program: "entry")
            try ours.setTailCall(map: "jumps", index: 0, to: try ours.load(program: "target"))
            try ours.setTailCall(map: "jumps", index: 1, to: try ours.load(program: "chain"))
            for (packet, expected) in zip(packets, results) {
                #expect(try entry.testRun(data: packet, mode: mode).returnValue == expected, "slot \(packet[0]), \(mode)")
            }
        }
        // target: XDP_TX; the chain runs 33 times (the limit counts every tail call of a run,
        // the entry's included), and again 33 on the next packet; empty and out of range: XDP_PASS.
        #expect(results == [3, 133, 2, 2, 166])
    }
}

import BPFBenchmarks
import BPFCore
import BPFKernel
import BPFObject
import BPFRuntime
import BTF
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason

private let source = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, __u32); __type(value, __u64); } counts SEC(".maps");
    SEC("xdp") int small(struct xdp_md *ctx) {
        void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
        if (data + 2 > end) return XDP_PASS;
        return *(unsigned char *)data > 7 ? XDP_DROP : XDP_PASS;
    }
    SEC("xdp") int count(struct xdp_md *ctx) {
        __u32 key = ctx->ingress_ifindex;
        __u64 *v = bpf_map_lookup_elem(&counts, &key);
        if (v) { __sync_fetch_and_add(v, 1); return XDP_PASS; }
        return XDP_DROP;
    }
    char LICENSE[] SEC("license") = "GPL";
    """

/// `verify --log` against the kernel's own level-2 log of the same program.
@Suite(
    "The verifier's log in the kernel's format", .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
    .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
struct VerifierLogTests {
    private func logs(_ program: String) throws -> (ours: [String], kernel: [String]) {
        let file = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "log.bpf.c"))
        let ours = try file.verify(program: program, target: BTF.vmlinux, log: true).log
        let kernel = try KernelObject(file).load(program: program, logLevel: 2).verifierLog.split(separator: "\n").map(String.init)
        return (ours, kernel)
    }

    @Test("straight-line code: the entry state, source lines, each instruction and what it changed, line for line")
    func lineForLine() throws {
        let (ours, kernel) = try logs("small")
        // Up to the first branch taken from the queue, where the two verifiers' pruning differs.
        let prefix = Array(ours.filter { !$0.isEmpty }.prefix { !$0.hasPrefix("from ") })
        #expect(prefix.count > 15)
        let start = try #require(kernel.firstIndex(of: "0: R1=ctx() R10=fp0"))
        #expect(Array(kernel[start..<min(kernel.count, start + prefix.count)]) == prefix)
        #expect(ours.last?.hasPrefix("processed ") == true && ours.contains("stack depth 0"))
    }

    @Test("maps named with their sizes, stack slots from their highest byte down, NULL-checked values")
    func mapsAndStack() throws {
        let (ours, kernel) = try logs("count")
        let compared = ours.filter { line in
            ["call bpf_map_lookup_elem", "*(u32 *)(r10 -4) = r1", "if r0 == 0x0 goto"].contains { line.contains($0) }
        }
        #expect(compared.count == 3)
        for line in compared { #expect(kernel.contains(line), "\(line)") }
    }
}

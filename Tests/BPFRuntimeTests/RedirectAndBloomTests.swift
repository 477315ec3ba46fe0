import BPFBenchmarks
import BPFCore
import BPFKernel
import BPFMaps
import BPFObject
import BPFRuntime
import BPFVM
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason

/// XDP through a device map and a CPU map, a bloom filter of source words, tc's redirect.
private let source = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    struct { __uint(type, BPF_MAP_TYPE_DEVMAP); __uint(max_entries, 8); __type(key, __u32); __type(value, __u32); } ports SEC(".maps");
    struct { __uint(type, BPF_MAP_TYPE_CPUMAP); __uint(max_entries, 4); __type(key, __u32); __type(value, __u32); } cpus SEC(".maps");
    struct { __uint(type, BPF_MAP_TYPE_BLOOM_FILTER); __uint(max_entries, 64); __type(value, __u32); } seen SEC(".maps");
    SEC("xdp") int route(struct xdp_md *ctx) {
        void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
        if (data + 12 > end) return XDP_ABORTED;
        __u32 key = *(__u32 *)data, flags = *(__u32 *)(data + 4);
        if (*(__u32 *)(data + 8)) return bpf_redirect_map(&cpus, key, flags);
        return bpf_redirect_map(&ports, key, flags);
    }
    SEC("xdp") int once(struct xdp_md *ctx) {
        void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
        if (data + 4 > end) return XDP_ABORTED;
        __u32 word = *(__u32 *)data;
        if (bpf_map_peek_elem(&seen, &word) == 0) return XDP_DROP;
        bpf_map_push_elem(&seen, &word, BPF_ANY);
        return XDP_PASS;
    }
    SEC("tc") int bounce(struct __sk_buff *skb) {
        void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
        if (data + 1 > end) return 0;
        return bpf_redirect(5, *(__u8 *)data);
    }
    char LICENSE[] SEC("license") = "GPL";
    """

private func words(_ values: [UInt32], length: Int = 64) -> [UInt8] {
    var bytes = values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    bytes += [UInt8](repeating: 0, count: max(0, length - bytes.count))
    return bytes
}

@Suite(
    "Redirects and bloom filters in the userspace runtime", .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
struct RedirectAndBloomTests {
    private func object() throws -> ObjectFile { try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "redirect.bpf.c")) }

    @Test("bpf_redirect_map records the map entry, falls back to the flags' action, refuses unknown flags")
    func redirectMap() throws {
        let loaded = try UserspaceObject(object())
        let route = try loaded.load(program: "route")
        try #require(loaded.map(named: "ports")).update(words([3], length: 4), words([1], length: 4))
        for mode in [ExecutionMode.checked(), .jit] {
            let hit = try route.testRun(data: words([3, 0, 0]), mode: mode)
            #expect(hit.returnValue == 4 && hit.redirect == .mapEntry(map: "ports", key: 3), "\(mode)")
            let miss = try route.testRun(data: words([2, 2, 0]), mode: mode)  // XDP_PASS from the flags
            #expect(miss.returnValue == 2 && miss.redirect == nil)
            let broadcast = try route.testRun(data: words([0, 8 | 16, 0]), mode: mode)
            #expect(broadcast.returnValue == 4 && broadcast.redirect == .broadcast(map: "ports", excludingIngress: true))
            // Broadcast is for device maps only: a CPU map with it aborts.
            #expect(try route.testRun(data: words([0, 8, 1]), mode: mode).returnValue == 0)
            #expect(try route.testRun(data: words([0, 64, 0]), mode: mode).returnValue == 0)
        }
    }

    @Test(
        "without map entries, the same return values as the kernel's",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")))
    func againstKernel() throws {
        let file = try object()
        let kernelObject = try KernelObject(file), ours = try UserspaceObject(file)
        let route = try ours.load(program: "route"), bounce = try ours.load(program: "bounce")
        let kernelRoute = try kernelObject.load(program: "route"), kernelBounce = try kernelObject.load(program: "bounce")
        for packet in [words([3, 0, 0]), words([2, 1, 0]), words([2, 2, 1]), words([0, 3, 0]), words([0, 8, 0]), words([0, 24, 1]), words([1, 64, 0])] {
            let expected = try kernelRoute.testRun(data: packet).returnValue
            #expect(try route.testRun(data: packet).returnValue == expected, "\(packet.prefix(12))")
        }
        for flags: UInt8 in [0, 1, 2, 3] {
            let packet = [flags] + [UInt8](repeating: 0, count: 63)
            let expected = try kernelBounce.testRun(data: packet).returnValue
            let ours = try bounce.testRun(data: packet)
            #expect(ours.returnValue == expected, "flags \(flags)")
            #expect(ours.redirect == (expected == 7 ? .interface(ifindex: 5, ingress: flags == 1) : nil))
        }
    }

    @Test("a bloom filter finds every value added, in programs and from the host")
    func bloom() throws {
        let loaded = try UserspaceObject(object())
        let once = try loaded.load(program: "once")
        var outcomes: [UInt32] = []
        for value: UInt32 in [7, 9, 7, 7, 1000, 9] { outcomes.append(try once.testRun(data: words([value])).returnValue) }
        #expect(outcomes == [2, 2, 1, 1, 2, 1])  // XDP_PASS the first time, XDP_DROP after
        let seen = try #require(loaded.map(named: "seen") as? BloomFilterMap)
        #expect(try seen.contains(words([1000], length: 4)))
        // No false negatives, and few false positives, at the filter's capacity.
        for v: UInt32 in 0..<64 { try seen.add(words([v &* 2_654_435_761], length: 4)) }
        #expect(try (0..<64).allSatisfy { (v: UInt32) throws in try seen.contains(words([v &* 2_654_435_761], length: 4)) })
        let falsePositives = try (100_000..<101_000).filter { (v: UInt32) throws in try seen.contains(words([v], length: 4)) }.count
        #expect(falsePositives < 50, "\(falsePositives) of 1000")
    }
}

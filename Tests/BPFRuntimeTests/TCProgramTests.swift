import BPFBenchmarks
import BPFKernel
import BPFObject
import BPFTestSupport
import BPFCore
import BPFMaps
import BPFRuntime
import BPFVM
import BPFVerifier
import BTF
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason

/// A tc classifier using direct packet access from the Ethernet header and `__sk_buff` fields:
/// drops UDP to port 53, rewrites the IPv4 TTL of TCP, and folds skb->len, skb->protocol and the
/// bytes it reads into a map; its return value is the verdict plus a checksum of what it saw.
private let source = """
    #include <linux/bpf.h>
    #include <linux/if_ether.h>
    #include <linux/in.h>
    #include <linux/ip.h>
    #include <linux/udp.h>
    #include <bpf/bpf_helpers.h>
    #include <bpf/bpf_endian.h>
    struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } seen SEC(".maps");
    SEC("tc") int classify(struct __sk_buff *skb) {
        void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
        __u32 zero = 0;
        __u64 *n = bpf_map_lookup_elem(&seen, &zero);
        if (n) *n += skb->len * 7 + skb->protocol;
        struct ethhdr *eth = data;
        if ((void *)(eth + 1) > end) return 2;  /* TC_ACT_SHOT */
        if (eth->h_proto != bpf_htons(ETH_P_IP)) return 0;  /* TC_ACT_OK */
        struct iphdr *ip = (void *)(eth + 1);
        if ((void *)(ip + 1) > end) return 2;
        if (ip->protocol == IPPROTO_TCP) { ip->ttl = 9; return 0; }
        if (ip->protocol != IPPROTO_UDP) return 0;
        struct udphdr *udp = (void *)ip + ip->ihl * 4;
        if ((void *)(udp + 1) > end) return 2;
        return udp->dest == bpf_htons(53) ? 2 : (skb->len & 0xff) << 8;
    }
    char LICENSE[] SEC("license") = "GPL";
    """

@Suite("tc programs against the kernel", .serialized)
struct TCProgramTests {
    @Test(
        "a tc classifier returns the kernel's verdicts, rewrites the same bytes and counts the same, in every engine",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func againstKernel() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "classify.bpf.c"))
        let tcp = BenchmarkPrograms.packet
        var udp53 = tcp
        udp53[23] = 17
        udp53[36] = 0
        udp53[37] = 53
        var udp = udp53
        udp[37] = 54
        var arp = tcp
        arp[12] = 0x08
        arp[13] = 0x06
        var options = udp  // an IP header of 60 bytes: the UDP header is past the end
        options[14] = 0x4f
        // The kernel's test run refuses frames under 14 bytes, and IPv4 frames without a whole
        // IP header: the short ones here are ARP.
        let packets = [tcp, udp53, udp, options, arp, Array(arp.prefix(20)), Array(arp.prefix(14))]
        let kernel = try KernelObject(object)
        let kernelProgram = try kernel.load()
        for mode in [ExecutionMode.checked(), .fast, .jit] {
            let ours = try UserspaceObject(object)
            let program = try ours.load()
            #expect(program.type == .schedCLS)
            for packet in packets {
                let expected = try kernelProgram.testRun(data: packet)
                let actual = try program.testRun(data: packet, mode: mode)
                #expect(actual.returnValue == expected.returnValue, "\\(packet.count)-byte packet, \\(mode)")
                #expect(actual.data == Array(expected.data.prefix(packet.count)), "\\(packet.count)-byte packet, \\(mode)")
            }
            #expect(try ours.maps[0].lookup([0, 0, 0, 0] as [UInt8]) == (try kernel.maps[0].lookup([0, 0, 0, 0])).map(Array.init))
            try kernel.maps[0].update([0, 0, 0, 0], [UInt8](repeating: 0, count: 8))
        }
    }
}

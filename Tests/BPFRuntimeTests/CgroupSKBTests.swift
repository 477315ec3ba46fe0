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

/// `cg_fields` copies every `__sk_buff` field a cgroup program may read into `.bss`, reads
/// the packet, and writes the fields it may write; the others do what the kernel refuses.
private let source = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    #define reload() asm volatile("" ::: "memory")
    __u64 seen[36];
    SEC("cgroup_skb/ingress") int cg_fields(struct __sk_buff *skb) {
        seen[0] = skb->len; seen[1] = skb->pkt_type; seen[2] = skb->mark; seen[3] = skb->queue_mapping;
        seen[4] = skb->protocol; seen[5] = skb->vlan_present; seen[6] = skb->vlan_tci; seen[7] = skb->vlan_proto;
        seen[8] = skb->priority; seen[9] = skb->ingress_ifindex; seen[10] = skb->ifindex; seen[11] = skb->tc_index;
        seen[12] = skb->cb[0]; seen[13] = skb->hash; seen[14] = skb->napi_id; seen[15] = skb->family;
        seen[16] = skb->remote_ip4; seen[17] = skb->local_ip4;
        for (int i = 0; i < 4; i++) {
            seen[18 + i] = skb->remote_ip6[i];
            seen[22 + i] = skb->local_ip6[i];
        }
        seen[26] = skb->remote_port; seen[27] = skb->local_port; seen[28] = skb->tstamp; seen[29] = skb->gso_segs;
        seen[30] = skb->gso_size; seen[31] = skb->hwtstamp;
        void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
        seen[32] = end - data;
        if (data + 1 <= end) seen[33] = *(__u8 *)data;
        skb->mark = 7; skb->priority = 3; skb->cb[1] = 9; skb->tstamp = 11;
        reload();
        seen[34] = skb->mark + skb->priority * 10 + skb->cb[1] * 100 + skb->tstamp * 1000;
        seen[35] += 1;
        return 1;
    }
    SEC("cgroup_skb/egress") int cg_writes_packet(struct __sk_buff *skb) {
        void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
        if (data + 1 > end) return 1;
        *(__u8 *)data = 1;
        return 1;
    }
    SEC("cgroup_skb/egress") int cg_reads_wire_len(struct __sk_buff *skb) { return skb->wire_len & 1; }
    SEC("cgroup_skb/egress") int cg_reads_tc_classid(struct __sk_buff *skb) { return skb->tc_classid & 1; }
    char LICENSE[] SEC("license") = "GPL";
    """

/// An Ethernet frame around an IPv6 UDP datagram from 2001:db8::1 to 2001:db8::2, sent to
/// the test device's own (zero) address.
private let ipv6Packet: [UInt8] = {
    let ethernet: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x86, 0xdd]
    let header: [UInt8] = [0x60, 0, 0, 0, 0, 8, 17, 64]
    func address(_ last: UInt8) -> [UInt8] { [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [last] }
    let udp: [UInt8] = [0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0]
    return ethernet + header + address(1) + address(2) + udp
}()

/// An ARP frame to another host: no IP socket to fake.
private let arpPacket: [UInt8] =
    [2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0x08, 0x06]
    + [0, 1, 8, 0, 6, 4, 0, 1] + [UInt8](repeating: 7, count: 20)

@Suite("cgroup socket-buffer programs")
struct CgroupSKBTests {
    /// The fields, the packet and the writes agree with the kernel's test run for IPv4, IPv6
    /// and non-IP frames (the socket the kernel fakes takes its family and addresses from the
    /// packet) sent to a multicast, the device's own and another host's address, in every engine.
    @Test(
        "a cgroup_skb program sees the context the kernel's test run gives it",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func againstKernel() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "cgroup_skb.bpf.c"))
        let kernel = try KernelObject(object), ours = try UserspaceObject(object)
        let kernelProgram = try kernel.load(program: "cg_fields"), ourProgram = try ours.load(program: "cg_fields")
        let kernelSeen = try #require(kernel.map(named: ".bss"))
        let ourSeen = try #require(ours.map(named: ".bss"))
        let zero: [UInt8] = [0, 0, 0, 0], empty = [UInt8](repeating: 0, count: 36 * 8)
        for (name, packet) in [("IPv4", BenchmarkPrograms.packet), ("IPv6", ipv6Packet), ("ARP", arpPacket)] {
            for mode in [ExecutionMode.checked(), .fast, .jit] {
                try ourSeen.update(zero, empty)
                try kernelSeen.update(zero, empty)
                #expect(try kernelProgram.testRun(data: packet).returnValue == 1)
                #expect(try ourProgram.testRun(data: packet, mode: mode).returnValue == 1)
                let expected = try #require(try kernelSeen.lookup(zero))
                let actual = try #require(try ourSeen.lookup(zero))
                for field in 0..<36 where actual[field * 8..<field * 8 + 8] != expected[field * 8..<field * 8 + 8] {
                    Issue.record(
                        "\(name), \(mode): seen[\(field)] is \(Array(actual[field * 8..<field * 8 + 8])), the kernel's \(Array(expected[field * 8..<field * 8 + 8]))"
                    )
                }
                #expect(expected[35 * 8] == 1, "the program ran once")
            }
        }
    }

    /// Cgroup programs read the packet but may not write it, and have no wire_len or
    /// tc_classid: both verifiers refuse, in the kernel's words.
    @Test(
        "both verifiers refuse a packet write and the fields cgroup programs may not read",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func refusals() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "cgroup_skb.bpf.c"))
        for (name, message) in [
            ("cg_writes_packet", "cannot write into packet"), ("cg_reads_wire_len", "invalid bpf_context access off=160"),
            ("cg_reads_tc_classid", "invalid bpf_context access off=72"),
        ] {
            let refusal = #expect(throws: (any Error).self) { try UserspaceObject(object).load(program: name) }
            #expect(String(describing: refusal).contains(message), "\(name): \(String(describing: refusal))")
            if kernelReason == nil {
                let kernelRefusal = #expect(throws: KernelError.self) { try KernelObject(object).load(program: name) }
                #expect(kernelRefusal?.log?.contains(message) == true, "\(name): \(kernelRefusal?.log ?? "")")
            }
        }
    }
}

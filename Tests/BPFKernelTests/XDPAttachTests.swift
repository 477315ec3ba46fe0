import BPFBenchmarks
import BPFKernel
import BPFObject
import BPFTestSupport
import Foundation
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason
private let ipPresent = FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") || FileManager.default.isExecutableFile(atPath: "/sbin/ip")

@discardableResult
private func shell(_ command: String) -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = ["-c", command]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return -1 }
    process.waitUntilExit()
    return process.terminationStatus
}

private let counter = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } seen SEC(".maps");
    SEC("xdp") int count_packets(struct xdp_md *ctx) {
        __u32 zero = 0;
        __u64 *n = bpf_map_lookup_elem(&seen, &zero);
        if (n) __sync_fetch_and_add(n, 1);
        return XDP_PASS;
    }
    char LICENSE[] SEC("license") = "GPL";
    """

@Suite("XDP attached to an interface", .serialized)
struct XDPAttachTests {
    /// A veth pair with one end in a network namespace the test creates; datagrams sent from the
    /// namespace cross the pair and are counted by the program on the other end, until the link
    /// is released.
    @Test("an XDP program on a veth counts the packets sent through it",
          .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
          .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
          .enabled(if: ipPresent, "iproute2 (ip) is not installed"))
    func vethCount() throws {
        let tag = String(getpid() % 100_000)
        let namespace = "sbpf\(tag)", outside = "sbpfa\(tag)", inside = "sbpfb\(tag)"
        defer {
            shell("ip link del \(outside)")
            shell("ip netns del \(namespace)")
        }
        let setup = [
            "ip netns add \(namespace)",
            "ip link add \(outside) type veth peer name \(inside)",
            "ip link set \(inside) netns \(namespace)",
            "ip addr add 10.213.0.1/24 dev \(outside)", "ip link set \(outside) up",
            "ip -n \(namespace) addr add 10.213.0.2/24 dev \(inside)", "ip -n \(namespace) link set \(inside) up",
        ]
        for command in setup { try #require(shell(command) == 0, "\(command) failed") }

        let loaded = try KernelObject(try ObjectFile(bytes: try BPFCompiler.compile(text: counter, name: "count.bpf.c")))
        let program = try loaded.load()
        let seen = try #require(loaded.maps.first)
        func count() throws -> UInt64 {
            try seen.lookup([0, 0, 0, 0]).map { littleEndianValue($0) } ?? 0
        }
        var link: XDPLink? = try XDPLink(program, interface: outside)
        #expect(link?.ifindex != 0)
        let send = "ip netns exec \(namespace) bash -c 'for i in $(seq 1 20); do echo x > /dev/udp/10.213.0.1/9; done'"
        shell(send)
        let attached = try count()
        #expect(attached >= 20, "counted \(attached) packets for 20 datagrams")
        link = nil  // detach
        shell(send)
        #expect(try count() == attached, "the program still counted after its link was released")
        withExtendedLifetime(link) {}
    }
}

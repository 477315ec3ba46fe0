import BPFBenchmarks
import BPFCore
import BPFKernel
import BPFObject
import BPFTestSupport
import Foundation
import Synchronization
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

/// What a command prints (standard output and error).
private func shellOutput(_ command: String) -> String {
    let process = Process(), pipe = Pipe()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = ["-c", command]
    process.standardOutput = pipe
    process.standardError = pipe
    guard (try? process.run()) != nil else { return "" }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

/// A counter of packets, as XDP or as a tc classifier.
private func counter(_ section: String) -> String {
    let (context, verdict) = section == "xdp" ? ("struct xdp_md", "XDP_PASS") : ("struct __sk_buff", "0 /* TC_ACT_OK */")
    return """
        #include <linux/bpf.h>
        #include <bpf/bpf_helpers.h>
        struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } seen SEC(".maps");
        SEC("\(section)") int count_packets(\(context) *ctx) {
            __u32 zero = 0;
            __u64 *n = bpf_map_lookup_elem(&seen, &zero);
            if (n) __sync_fetch_and_add(n, 1);
            return \(verdict);
        }
        char LICENSE[] SEC("license") = "GPL";
        """
}

/// Pairs made so far: each gets names and a subnet of its own (suites run at once).
private let pairsMade = Atomic<Int>(0)

/// A veth pair with one end in a network namespace made for the test (removed after it):
/// `body` gets the outside end's name, a way to send 20 datagrams from the namespace across the
/// pair to it, and a way to start sending `count` more in the background.
private func withVethPair(
    _ body: (_ outside: String, _ send: () -> Void, _ startSending: (_ count: Int) throws -> Process) throws -> Void
) throws {
    let n = pairsMade.add(1, ordering: .relaxed).newValue % 250
    let tag = "\(getpid() % 100_000)x\(n)"
    let namespace = "sbpf\(tag)", outside = "sbpfa\(tag)", inside = "sbpfb\(tag)"
    let subnet = "10.213.\(n)"
    defer {
        shell("ip link del \(outside)")
        shell("ip netns del \(namespace)")
    }
    let setup = [
        "ip netns add \(namespace)",
        "ip link add \(outside) type veth peer name \(inside)",
        "ip link set \(inside) netns \(namespace)",
        "ip addr add \(subnet).1/24 dev \(outside)", "ip link set \(outside) up",
        "ip -n \(namespace) addr add \(subnet).2/24 dev \(inside)", "ip -n \(namespace) link set \(inside) up",
    ]
    for command in setup { try #require(shell(command) == 0, "\(command) failed") }
    func sender(_ count: Int) -> String {
        "ip netns exec \(namespace) bash -c 'for i in $(seq 1 \(count)); do echo x > /dev/udp/\(subnet).1/9; done'"
    }
    try body(outside, { shell(sender(20)) }) { count in
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", sender(count)]
        try process.run()
        return process
    }
}

/// Loads the counter for `section`; returns its program and a reader of its count.
private func loadCounter(_ section: String) throws -> (KernelObject, KernelProgram, () throws -> UInt64) {
    let loaded = try KernelObject(try ObjectFile(bytes: try BPFCompiler.compile(text: counter(section), name: "count.bpf.c")))
    let program = try loaded.load()
    let seen = try #require(loaded.maps.first)
    return (loaded, program, { try seen.lookup([0, 0, 0, 0]).map { littleEndianValue($0) } ?? 0 })
}

/// After a detach: the datagrams `send` sends are not counted. The baseline is read after the
/// detach, since the interface's own traffic (neighbour discovery) may be counted up to it.
private func expectNoCounting(
    _ count: () throws -> UInt64, _ send: () -> Void, _ message: Comment,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let detached = try count()
    send()
    #expect(try count() == detached, message, sourceLocation: sourceLocation)
}

@Suite("Programs attached to an interface", .serialized)
struct InterfaceAttachTests {
    /// Datagrams sent from the namespace cross the pair and are counted by the program on the
    /// other end, until the link is released.
    @Test(
        "an XDP program on a veth counts the packets sent through it",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: ipPresent, "iproute2 (ip) is not installed"))
    func vethCount() throws {
        try withVethPair { outside, send, _ in
            let (object, program, count) = try loadCounter("xdp")
            var link: XDPLink? = try XDPLink(program, interface: outside)
            #expect(link?.ifindex != 0)
            send()
            let attached = try count()
            #expect(attached >= 20, "counted \(attached) packets for 20 datagrams")
            link = nil  // detach
            try expectNoCounting(count, send, "the program still counted after its link was released")
            withExtendedLifetime((object, link)) {}
        }
    }

    /// The same through tcx on ingress; then pinned, the link keeps the program attached after
    /// the value is released, until the pin is removed.
    @Test(
        "a tc classifier through tcx counts packets, and a pinned link outlives its value",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: ipPresent, "iproute2 (ip) is not installed"))
    func tcxCount() throws {
        try withVethPair { outside, send, _ in
            let (object, program, count) = try loadCounter("tcx/ingress")
            var link: TCLink? = try TCLink(program, interface: outside, direction: .ingress)
            send()
            let attached = try count()
            #expect(attached >= 20, "counted \(attached) packets for 20 datagrams")

            let path = Pinning.root + "/swiftbpf-test-tcx-\(getpid())"
            try link?.pin(at: path)
            link = nil
            send()
            let pinned = try count()
            #expect(pinned >= attached + 20, "a pinned link stopped counting when its value was released")
            try Pinning.unpin(path)
            usleep(300_000)  // the kernel frees a link whose last reference was its pin from a work queue
            try expectNoCounting(count, send, "the program still counted after its pin was removed")
            withExtendedLifetime(object) {}
        }
    }

    /// The netlink fallback, forced: XDP through IFLA_XDP shows on the interface and counts; a
    /// second program is refused rather than replacing it; release removes it.
    @Test(
        "an XDP program attached through netlink counts packets and is removed on release",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: ipPresent, "iproute2 (ip) is not installed"))
    func xdpThroughNetlink() throws {
        try withVethPair { outside, send, _ in
            let (object, program, count) = try loadCounter("xdp")
            var link: XDPLink? = try XDPLink(program, interface: outside, using: .netlink)
            #expect(link?.attachment == .netlink && link?.fd == nil)
            let id = try #require(Inventory.program(fd: program.fd)?.id)
            #expect(shellOutput("ip -d link show dev \(outside)").contains("prog/xdp id \(id)"))
            send()
            let attached = try count()
            #expect(attached >= 20, "counted \(attached) packets for 20 datagrams")

            let (_, other, _) = try loadCounter("xdp")
            let refused = #expect(throws: KernelError.self, "a second XDP program replaced the first") {
                try XDPLink(other, interface: outside, using: .netlink)
            }
            #expect(refused?.errno == .EBUSY, "\(String(describing: refused))")
            #expect(refused?.log?.contains("already attached") == true, "the kernel's extended ack: \(String(describing: refused?.log))")

            link = nil
            #expect(!shellOutput("ip -d link show dev \(outside)").contains("prog/xdp"))
            try expectNoCounting(count, send, "the program still counted after it was detached")
            withExtendedLifetime(object) {}
        }
    }

    /// The tc fallback, forced: a clsact qdisc and a direct-action bpf filter on ingress count
    /// packets; a second filter at the same priority is refused; release removes the filter.
    @Test(
        "a tc classifier attached through netlink counts packets and is removed on release",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: ipPresent, "iproute2 (ip) is not installed"))
    func tcThroughNetlink() throws {
        try withVethPair { outside, send, _ in
            let (object, program, count) = try loadCounter("tc")
            var link: TCLink? = try TCLink(program, interface: outside, direction: .ingress, using: .netlink)
            #expect(link?.attachment == .netlink)
            #expect(shellOutput("tc filter show dev \(outside) ingress").contains("swiftbpf"))
            send()
            let attached = try count()
            #expect(attached >= 20, "counted \(attached) packets for 20 datagrams")
            let refused = #expect(throws: KernelError.self) { try TCLink(program, interface: outside, direction: .ingress, using: .netlink) }
            #expect(refused?.errno == .EEXIST, "\(String(describing: refused))")

            link = nil
            #expect(!shellOutput("tc filter show dev \(outside) ingress").contains("swiftbpf"))
            try expectNoCounting(count, send, "the program still counted after it was detached")
            withExtendedLifetime(object) {}
        }
    }

    /// A pinned program reopens by path with its type, and runs.
    @Test(
        "a pinned program reopens by path and runs",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func pinnedProgram() throws {
        let path = Pinning.root + "/swiftbpf-test-prog-\(getpid())"
        do {
            let (_, program, _) = try loadCounter("xdp")
            try program.pin(at: path)
        }
        defer { try? Pinning.unpin(path) }
        let reopened = try KernelProgram(pinnedAt: path)
        #expect(reopened.type == .xdp)
        #expect(try reopened.testRun(data: Array(repeating: 0, count: 64)).returnValue == 2)  // XDP_PASS
    }
}

/// Two programs, old_program and new_program, counting into slots 0 and 1 of `seen`, and a third
/// counting every packet in slot 2: XDP with a tcx classifier after it, or three cgroup_skb
/// egress programs.
private func swappable(cgroup: Bool) -> String {
    let (section, context, pass) = cgroup ? ("cgroup_skb/egress", "struct __sk_buff", "1") : ("xdp", "struct xdp_md", "XDP_PASS")
    let (everySection, everyPass) = cgroup ? ("cgroup_skb/egress", "1") : ("tcx/ingress", "0")
    return """
        #include <linux/bpf.h>
        #include <bpf/bpf_helpers.h>
        struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 3); __type(key, __u32); __type(value, __u64); } seen SEC(".maps");
        static __always_inline void bump(__u32 slot) {
            __u64 *n = bpf_map_lookup_elem(&seen, &slot);
            if (n) __sync_fetch_and_add(n, 1);
        }
        SEC("\(section)") int old_program(\(context) *ctx) { bump(0); return \(pass); }
        SEC("\(section)") int new_program(\(context) *ctx) { bump(1); return \(pass); }
        SEC("\(everySection)") int every(struct __sk_buff *skb) { bump(2); return \(everyPass); }
        char LICENSE[] SEC("license") = "GPL";
        """
}

/// Swaps `link`'s program between `old` and `new` until `sender` ends, then expects every packet
/// the independent counter saw (`seen` slot 2, `datagrams` of them at least) to have been
/// counted by one of the two (slots 0 and 1), and each of them to have run.
private func expectEveryPacketCounted(
    swapping link: any KernelLink, between old: KernelProgram, and new: KernelProgram, while sender: Process, datagrams: UInt64, seen: KernelMap,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    func count(_ slot: UInt8) throws -> UInt64 { try seen.lookup([slot, 0, 0, 0]).map { littleEndianValue($0) } ?? 0 }
    var swaps = 0
    while sender.isRunning {
        try link.update(program: swaps % 2 == 0 ? new : old)
        swaps += 1
    }
    sender.waitUntilExit()
    usleep(200_000)  // the last packets through the stack
    let (byOld, byNew, all) = (try count(0), try count(1), try count(2))
    // An update of a native veth XDP program waits for the driver (tens of ms).
    #expect(swaps >= 10, "only \(swaps) swaps while the traffic flowed", sourceLocation: sourceLocation)
    #expect(all >= datagrams, "\(all) packets counted for \(datagrams) datagrams", sourceLocation: sourceLocation)
    #expect(byOld > 0 && byNew > 0, "old \(byOld), new \(byNew)", sourceLocation: sourceLocation)
    #expect(byOld + byNew == all, "the swapped link counted \(byOld) + \(byNew) of \(all) packets", sourceLocation: sourceLocation)
}

@Suite("Replacing the program of a kernel link", .serialized)
struct KernelLinkUpdateTests {
    /// Datagrams flow through the pair while the XDP link's program is swapped back and forth;
    /// every packet the stack saw after XDP (counted by tcx) was counted by the old program or
    /// the new one.
    @Test(
        "BPF_LINK_UPDATE swaps an XDP link's program under traffic with no packet unprocessed",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: ipPresent, "iproute2 (ip) is not installed"))
    func xdpUpdateUnderTraffic() throws {
        try withVethPair { outside, _, startSending in try updateUnderTraffic(outside: outside, startSending: startSending) }
    }

    private func updateUnderTraffic(outside: String, startSending: (Int) throws -> Process) throws {
        let object = try KernelObject(try ObjectFile(bytes: try BPFCompiler.compile(text: swappable(cgroup: false), name: "swap.bpf.c")))
        let after = try TCLink(try object.load(program: "every"), interface: outside, direction: .ingress)
        let old = try object.load(program: "old_program")
        let link = try XDPLink(old, interface: outside)
        try expectEveryPacketCounted(
            swapping: link, between: old, and: try object.load(program: "new_program"), while: try startSending(20_000), datagrams: 20_000,
            seen: try #require(object.map(named: "seen")))
        withExtendedLifetime((after, link)) {}
    }

    /// The cgroup v2 hierarchy's root, where the kernel has one mounted.
    private static let cgroupRoot = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"].first { FileManager.default.fileExists(atPath: $0 + "/cgroup.procs") }

    /// A process in a cgroup of its own sends datagrams over loopback while the cgroup_skb egress
    /// link's program is swapped; a second program on the same cgroup counts every packet.
    @Test(
        "BPF_LINK_UPDATE swaps a cgroup link's program under traffic with no packet unprocessed",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: cgroupRoot != nil, "no cgroup v2 hierarchy is mounted"))
    func cgroupUpdateUnderTraffic() throws {
        let cgroup = Self.cgroupRoot! + "/swiftbpf-test-\(getpid())"
        try #require(shell("mkdir -p \(cgroup)") == 0)
        defer { shell("rmdir \(cgroup)") }
        let object = try KernelObject(try ObjectFile(bytes: try BPFCompiler.compile(text: swappable(cgroup: true), name: "swap-cgroup.bpf.c")))
        let every = try object.load(program: "every").attach(AttachOptions(cgroup: cgroup))
        let old = try object.load(program: "old_program")
        let link = try CgroupLink(old, cgroup: cgroup)
        #expect(link.summary == "cgroup \(AttachType.cgroupInetEgress) on \(cgroup)")
        let sender = Process()
        sender.executableURL = URL(fileURLWithPath: "/bin/bash")
        sender.arguments = ["-c", "echo $$ > \(cgroup)/cgroup.procs && for i in $(seq 1 5000); do echo x > /dev/udp/127.0.0.1/9; done"]
        try sender.run()
        try expectEveryPacketCounted(
            swapping: link, between: old, and: try object.load(program: "new_program"), while: sender, datagrams: 5_000,
            seen: try #require(object.map(named: "seen")))
        #expect(sender.terminationStatus == 0)
        withExtendedLifetime((every, link)) {}
    }

    @Test(
        "a tcx link's program is replaced in place: the new one counts, the old one no longer runs",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: ipPresent, "iproute2 (ip) is not installed"))
    func tcxUpdate() throws {
        try withVethPair { outside, send, _ in
            let object = try KernelObject(try ObjectFile(bytes: try BPFCompiler.compile(text: swappable(cgroup: false), name: "swap-tc.bpf.c")))
            let seen = try #require(object.map(named: "seen"))
            let tc = try object.load(program: "every")
            let link = try TCLink(tc, interface: outside, direction: .ingress)
            let replacement = try KernelObject(try ObjectFile(bytes: try BPFCompiler.compile(text: counter("tcx/ingress"), name: "count-tc.bpf.c")))
            let other = try replacement.load()
            try link.update(program: other)
            let before = try seen.lookup([2, 0, 0, 0]).map { littleEndianValue($0) } ?? 0
            send()
            #expect(try seen.lookup([2, 0, 0, 0]).map { littleEndianValue($0) } ?? 0 == before, "the old program still ran")
            #expect(try replacement.maps[0].lookup([0, 0, 0, 0]).map { littleEndianValue($0) } ?? 0 >= 20)
            withExtendedLifetime(link) {}
        }
    }
}

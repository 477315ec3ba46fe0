import BPFCore
import BPFKernel
import BPFPacket
import BPFPlatform
import BPFRuntime
import BPFVM
import Foundation
import Testing

private let tcpdump = ["/usr/bin/tcpdump", "/usr/sbin/tcpdump"].first { FileManager.default.isExecutableFile(atPath: $0) }
private let tcpdumpReason: String? = tcpdump == nil ? "tcpdump is not installed (Debian: tcpdump)" : nil
private let libpcapReason = FilterCompiler.unavailableReason

/// Filter expressions over one generated capture. tcpdump's own verdicts are the reference.
private let expressions = [
    "tcp", "udp", "icmp", "ip", "ip6", "arp", "vlan", "tcp port 80", "udp port 53", "port 443", "src port 22", "dst port 8080",
    "tcp dst port 1234", "host 10.0.0.1", "src host 10.0.0.2", "dst host 192.168.1.10", "net 10.0.0.0/8", "src net 192.168.0.0/16",
    "ip and tcp", "ip6 and udp", "icmp6", "tcp[tcpflags] & tcp-syn != 0", "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
    "tcp[tcpflags] & tcp-rst != 0", "tcp[tcpflags] & tcp-fin != 0", "ip[6:2] & 0x1fff != 0", "ip[6] & 0x20 != 0", "not ip",
    "not tcp and not udp", "tcp or udp", "ether broadcast", "ether multicast", "ether host 00:01:02:03:04:05", "ether src 02:00:00:00:00:09",
    "greater 100", "less 70", "len > 80", "ip[2:2] > 60", "ip[8] == 64", "icmp[icmptype] == icmp-echo", "icmp[icmptype] == icmp-echoreply",
    "portrange 1-100", "tcp portrange 400-500", "ip host 8.8.8.8 and udp", "ip6 host fe80::1", "ip6 and tcp port 80", "vlan and tcp",
    "vlan and ip and udp port 53", "proto \\tcp", "ip proto 17", "(tcp port 80 or tcp port 443) and host 10.0.0.1",
    "udp[8:2] > 0", "tcp[13] == 0x12", "ether proto 0x0806", "ip[0] & 0xf == 5", "ip and (ip[2:2] - ((ip[0] & 0xf) << 2)) > 40",
]

@Suite(
    "Classic BPF: filters accept what tcpdump accepts, on every engine and in the kernel",
    .enabled(if: tcpdumpReason == nil, Comment(rawValue: tcpdumpReason ?? "")),
    .enabled(if: libpcapReason == nil, Comment(rawValue: libpcapReason ?? "")))
struct ClassicFilterTests {
    static let capture = TrafficGenerator.capture(count: 600, seed: 0x7063_6170)

    /// The packets (by index) tcpdump's filter keeps.
    private static func tcpdumpAccepts(_ expression: String, _ file: String) throws -> Set<Int> {
        let out = file + ".out"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tcpdump!)
        process.arguments = ["-r", file, "-w", out, expression]
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "tcpdump refused '\(expression)'")
        let kept = try PacketCapture.read(try #require(readFile(out)))
        return Set(kept.packets.map { Int($0.timestamp / 1_000_000_000) })
    }

    @Test("the accepted set equals tcpdump's", arguments: expressions)
    func sameAsTcpdump(_ expression: String) throws {
        let file = NSTemporaryDirectory() + "swiftbpf-cbpf-\(getpid())-\(abs(expression.hashValue)).pcap"
        try Data(PacketCapture.pcapBytes(packets: Self.capture.packets, linkType: PacketCapture.ethernet, snapLength: 65535)).write(
            to: URL(fileURLWithPath: file))
        defer {
            try? FileManager.default.removeItem(atPath: file)
            try? FileManager.default.removeItem(atPath: file + ".out")
        }
        let expected = try Self.tcpdumpAccepts(expression, file)
        let program = try FilterCompiler.compile(expression)
        let code = program.ebpf
        // Run as a tc classifier: its test run presents the frame from its Ethernet header, as a
        // packet socket does, and it may load packet bytes the classic way.
        let loaded = try UserspaceProgram.load(instructions: code, type: .schedCLS, name: "filter")
        var modes: [ExecutionMode] = [.fast, .checked()]
        if JITProgram.isSupported { modes.append(.jit) }
        for mode in modes {
            var accepted: Set<Int> = []
            for (i, packet) in Self.capture.packets.enumerated() where try loaded.testRun(data: packet.data, mode: mode).returnValue != 0 {
                accepted.insert(i)
            }
            #expect(accepted == expected, "\(mode): \(accepted.symmetricDifference(expected).sorted().prefix(10)) differ")
        }
        if KernelSupport.unavailableReason == nil {
            let kernel = try KernelProgram(type: .schedCLS, instructions: code)
            var accepted: Set<Int> = []
            for (i, packet) in Self.capture.packets.enumerated() where try kernel.testRun(data: packet.data).returnValue != 0 { accepted.insert(i) }
            #expect(accepted == expected, "kernel: \(accepted.symmetricDifference(expected).sorted().prefix(10)) differ")
        }
        #expect(!expected.isEmpty || ["less 70"].contains(expression), "the capture has packets '\(expression)' keeps")
    }
}

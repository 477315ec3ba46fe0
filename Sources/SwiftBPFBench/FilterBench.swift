import BPFCore
import BPFKernel
import BPFPacket
import BPFPlatform
import BPFRuntime
import BPFVM

extension Benchmark {
    /// tcpdump filters, compiled by libpcap, run per packet by libpcap's own classic
    /// interpreter (`bpf_filter`) beside ours translated to eBPF: interpreted, JIT-compiled, and
    /// in the kernel (its test run's time per repeat), mean ns over representative packets.
    func benchFilters(kernel: Bool) throws {
        guard let classicInterpreter = FilterCompiler.classicInterpreter else {
            output("filters: skipped: \(FilterCompiler.unavailableReason ?? "libpcap has no bpf_filter")")
            return
        }
        let packets = Self.filterPackets
        output("filter (ns/packet)                          libpcap   interpreter   jit      kernel   jit vs libpcap")
        for expression in ["tcp port 80", "udp and dst port 53", "ip6 or vlan", "tcp[tcpflags] & tcp-syn != 0", "net 10.0.0.0/8 and not icmp"] {
            let classic = try FilterCompiler.compile(expression)
            let code = classic.ebpf
            let program = try UserspaceProgram.load(instructions: code, type: .schedCLS, name: "filter")
            let kernelProgram = kernel ? try KernelProgram(type: .schedCLS, instructions: code) : nil
            var libpcap = 0.0, interpreter = 0.0, jit = 0.0, inKernel = 0.0
            for packet in packets {
                // The same verdict from each, or the figures mean nothing.
                let expected = classicInterpreter(classic, packet)
                let interpreted = try program.testRun(data: packet, repeat: runs, mode: .fast)
                guard (interpreted.returnValue != 0) == (expected != 0) else { throw BenchmarkError.failed("\(expression): verdicts differ from libpcap's") }
                interpreter += try best { try program.testRun(data: packet, repeat: runs, mode: .fast).nanosecondsPerRun }
                if JITProgram.isSupported { jit += try best { try program.testRun(data: packet, repeat: runs, mode: .jit).nanosecondsPerRun } }
                libpcap += best { meanNanoseconds { _ = classicInterpreter(classic, packet) } }
                if let kernelProgram { inKernel += try best { try kernelProgram.testRun(data: packet, repeat: UInt32(runs)).nanosecondsPerRun } }
            }
            let n = Double(packets.count)
            func cell(_ v: Double, _ present: Bool = true) -> String { pad(present ? format1(v / n) : "-", 9) }
            let ratio = JITProgram.isSupported && jit > 0 ? format1(libpcap / jit) + "x" : "-"
            output(
                pad(expression, 44) + cell(libpcap) + " " + cell(interpreter) + "     "
                    + cell(jit, JITProgram.isSupported) + cell(inKernel, kernel) + ratio)
        }
    }

    /// Ethernet frames a filter tells apart: TCP to 80 (SYN), UDP to 53, ICMP, IPv6 TCP, a
    /// VLAN-tagged one, ARP.
    static let filterPackets: [[UInt8]] = {
        let ethernet: [UInt8] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
        func ipv4(_ proto: UInt8, _ l4: [UInt8]) -> [UInt8] {
            ethernet + [0x08, 0x00, 0x45, 0, 0, UInt8(20 + l4.count), 0, 1, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2] + l4
        }
        let tcp: [UInt8] = [0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]
        let udp: [UInt8] = [0x30, 0x39, 0, 53, 0, 8, 0, 0]
        let ipv6 = ethernet + [0x86, 0xdd, 0x60, 0, 0, 0, 0, 20, 6, 64] + [UInt8](repeating: 1, count: 32) + tcp
        let vlan = ethernet + [0x81, 0x00, 0, 5] + Array(ipv4(17, udp).dropFirst(12))
        let arp = ethernet + [0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1] + [UInt8](repeating: 0, count: 20)
        return [ipv4(6, tcp), ipv4(17, udp), ipv4(1, [8, 0, 0, 0, 0, 1, 0, 1]), ipv6, vlan, arp]
    }()
}

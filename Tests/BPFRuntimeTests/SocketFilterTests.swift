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

/// Socket filters using legacy packet access (`LD_ABS`, `LD_IND`) and `__sk_buff` fields, run
/// by the kernel (`BPF_PROG_TEST_RUN`) and by the interpreter over the same packets.
@Suite("Socket filters against the kernel")
struct SocketFilterTests {
    private static let programs: [(String, String)] = [
        (
            "tcp over IPv4 (offsets from the network header), else 0; keeps skb->len bytes",
            """
            mov %r6, %r1
            ldabsb 0
            jne %r0, 0x45, drop
            ldabsb 9
            jne %r0, 6, drop
            ldxw %r0, [%r6+0]
            exit
            drop:
            mov %r0, 0
            exit
            """
        ),
        (
            "indirect loads through the IP header length",
            """
            mov %r6, %r1
            ldabsb 0
            and %r0, 15
            lsh %r0, 2
            mov %r7, %r0
            ldindh %r7, 2
            mov %r8, %r0
            ldindw %r7, 0
            xor %r0, %r8
            exit
            """
        ),
        (
            "a load past the end returns 0",
            """
            mov %r6, %r1
            ldabsw 42
            add %r0, 1
            exit
            """
        ),
        (
            "SKF_NET_OFF and SKF_LL_OFF: the IP protocol from the network header, the EtherType from the link layer; below SKF_LL_OFF fails",
            """
            mov %r6, %r1
            ldabsb -1048567
            mov %r7, %r0
            ldabsh -2097140
            lsh %r0, 8
            or %r0, %r7
            mov %r8, %r0
            mov %r9, -2097152
            ldindb %r9, 6
            lsh %r0, 24
            or %r0, %r8
            jne %r0, 0x8000600, out
            ldabsb -2097153
            out:
            exit
            """
        ),
        (
            "protocol and ifindex fields",
            """
            ldxw %r2, [%r1+16]
            ldxw %r3, [%r1+0]
            lsh %r2, 16
            or %r2, %r3
            mov %r0, %r2
            exit
            """
        ),
    ]

    @Test(
        "same verdicts as the kernel", .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        arguments: programs.indices)
    func againstKernel(index: Int) throws {
        let (name, source) = Self.programs[index]
        let code = try Assembler.assemble(source)
        let kernel = try KernelProgram(type: .socketFilter, instructions: code)
        let interpreter = try Interpreter(code)
        var udp = BenchmarkPrograms.packet
        udp[23] = 17
        var arp = BenchmarkPrograms.packet
        arp[12] = 0x08; arp[13] = 0x06
        var longHeader = BenchmarkPrograms.packet
        longHeader[14] = 0x46
        for packet in [BenchmarkPrograms.packet, udp, arp, longHeader, Array(BenchmarkPrograms.packet.prefix(40))] {
            let expected = try kernel.testRun(data: packet).returnValue
            for mode in [ExecutionMode.checked(), .fast, .jit] {
                let ours = try packet.withUnsafeBytes { (data) throws -> UInt64 in
                    var skb = SocketBufferContext(frame: data)
                    return try withUnsafeMutableBytes(of: &skb) { ctx in
                        let regions = [MemoryRegion(ctx, writable: false), MemoryRegion(UnsafeMutableRawBufferPointer(mutating: data), writable: false)]
                        return try interpreter.run(UInt64(UInt(bitPattern: ctx.baseAddress)), mode: mode, regions: regions)
                    }
                }
                #expect(UInt32(truncatingIfNeeded: ours) == expected, "\(name): \(packet.count)-byte packet, \(mode)")
            }
        }
    }

    @Test(
        "a socket filter object runs in the userspace runtime as in the kernel",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: BPFCompiler.unavailableReason == nil, Comment(rawValue: BPFCompiler.unavailableReason ?? "")))
    func object() throws {
        let source = """
            #include <linux/bpf.h>
            #include <bpf/bpf_helpers.h>
            unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
            unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
            SEC("socket") int tcp_only(struct __sk_buff *skb) {
                if (skb->protocol != __builtin_bswap16(0x0800) || load_byte(skb, 9) != 6) return 0;
                return skb->len;
            }
            char LICENSE[] SEC("license") = "GPL";
            """
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "socket.bpf.c"))
        let kernel = try KernelObject(object).load(), ours = try UserspaceObject(object).load()
        var udp = BenchmarkPrograms.packet
        udp[23] = 17
        for packet in [BenchmarkPrograms.packet, udp] {
            #expect(try ours.testRun(data: packet).returnValue == (try kernel.testRun(data: packet).returnValue))
        }
    }
}

import BPFCore
import BPFKernel
import BPFPacket
import BPFRuntime
import BPFVM
import Testing

typealias I = ClassicProgram.Instruction

/// Programs `bpf_check_classic` refuses, with its reason.
let refusalCases: [([I], String)] = [
    ([I(code: 0x05, k: 5), I(code: 0x06)], "leaves the program"),  // ja past the end
    ([I(code: 0x15, jt: 3, jf: 0), I(code: 0x06)], "leaves the program"),
    ([I(code: 0x00, k: 1)], "not a return"),
    ([I(code: 0x60, k: 3), I(code: 0x16)], "read before it is written"),
    ([I(code: 0x02, k: 16), I(code: 0x06)], "scratch word 16"),
    ([I(code: 0x34, k: 0), I(code: 0x16)], "division by zero"),
    ([I(code: 0x64, k: 32), I(code: 0x16)], "shift by 32"),
    ([I(code: 0x30, k: UInt32(bitPattern: -0x1000)), I(code: 0x16)], "ancillary data"),
    ([I(code: 0xff), I(code: 0x06)], "unknown opcode"),
]

/// Programs over the packet [0x45, 0x01, 0x02, 0x03, 0x10, 0...] (64 bytes), with what classic
/// BPF returns.
let resultCases: [([I], UInt32)] = [
    // A = 7; X = 0; A /= X: a division by zero returns 0.
    ([I(code: 0x00, k: 7), I(code: 0x01, k: 0), I(code: 0x3c), I(code: 0x16)], 0),
    // A = 7; X = 2; A %= X → 1
    ([I(code: 0x00, k: 7), I(code: 0x01, k: 2), I(code: 0x9c), I(code: 0x16)], 1),
    // X = 4 * (P[0] & 0xf) = 20; A = X → 20
    ([I(code: 0xb1, k: 0), I(code: 0x87), I(code: 0x16)], 20),
    // M[3] = A(=P[1]); A = 0; A = M[3]; A += 100 → 101
    ([I(code: 0x30, k: 1), I(code: 0x02, k: 3), I(code: 0x00, k: 0), I(code: 0x60, k: 3), I(code: 0x04, k: 100), I(code: 0x16)], 101),
    // A = len; ret A → 64
    ([I(code: 0x80), I(code: 0x16)], 64),
    // A = P[2:2] (0x0203) > 0x8000_0000 unsigned? no: ret 1, else ret 2 → 2
    ([I(code: 0x28, k: 2), I(code: 0x25, jt: 0, jf: 1, k: 0x8000_0000), I(code: 0x06, k: 1), I(code: 0x06, k: 2)], 2),
    // A = 0xffff_ffff; A > 0x8000_0000 → ret 1
    ([I(code: 0x00, k: 0xffff_ffff), I(code: 0x25, jt: 0, jf: 1, k: 0x8000_0000), I(code: 0x06, k: 1), I(code: 0x06, k: 2)], 1),
    // A load past the packet returns 0.
    ([I(code: 0x20, k: 1000), I(code: 0x06, k: 9)], 0),
    // X = 1; A = P[X + 2] → 0x03; JSET 0x2 → ret 5
    ([I(code: 0x01, k: 1), I(code: 0x50, k: 2), I(code: 0x45, jt: 0, jf: 1, k: 2), I(code: 0x06, k: 5), I(code: 0x06, k: 6)], 5),
    // A = 1; A <<= 31; A = -A → 0x8000_0000; TAX; A = X; ret A
    ([I(code: 0x00, k: 1), I(code: 0x64, k: 31), I(code: 0x84), I(code: 0x07), I(code: 0x87), I(code: 0x16)], 0x8000_0000),
]

/// Classic programs libpcap does not write: checked as bpf_check_classic checks them, and run
/// after translation with the results classic BPF defines, in userspace and in the kernel.
@Suite("Classic BPF: the kernel's checks and translation")
struct ClassicProgramTests {
    @Test("tcpdump -ddd text parses")
    func parse() throws {
        let program = try ClassicProgram(text: "4\n40 0 0 12\n21 0 1 2048\n6 0 0 65535\n6 0 0 0\n")
        #expect(program.instructions == [I(code: 40, k: 12), I(code: 21, jt: 0, jf: 1, k: 2048), I(code: 6, k: 65535), I(code: 6)])
        #expect(throws: PacketCaptureError.self) { try ClassicProgram(text: "2\n6 0 0 0\n") }
        #expect(throws: PacketCaptureError.self) { try ClassicProgram(text: "1\n6 0 x 0\n") }
    }

    @Test(
        "bpf_check_classic's refusals",
        arguments: refusalCases)
    func refusals(_ code: [I], _ message: String) {
        #expect(throws: PacketCaptureError.self) { try ClassicProgram(code) }
        do { _ = try ClassicProgram(code) } catch { #expect(error.description.contains(message), "\(error)") }
    }

    /// Programs over the packet [0x45, 0x01, 0x02, 0x03, 0x10 ...] and what classic BPF
    /// returns for each.
    @Test(
        "translated programs return what classic BPF defines",
        arguments: resultCases)
    func results(_ code: [I], _ expected: UInt32) throws {
        let ebpf = try ClassicProgram(code).ebpf
        let packet: [UInt8] = [0x45, 0x01, 0x02, 0x03, 0x10] + [UInt8](repeating: 0, count: 59)
        let program = try UserspaceProgram.load(instructions: ebpf, type: .schedCLS, name: "classic")
        var modes: [ExecutionMode] = [.fast, .checked()]
        if JITProgram.isSupported { modes.append(.jit) }
        for mode in modes { #expect(try program.testRun(data: packet, mode: mode).returnValue == expected, "\(mode)") }
        if KernelSupport.unavailableReason == nil {
            #expect(try KernelProgram(type: .schedCLS, instructions: ebpf).testRun(data: packet).returnValue == expected, "kernel")
        }
    }
}

import BPFCore
import BPFTestSupport
import BPFKernel
import BPFVM
import Testing

private let kernelReason = KernelSupport.unavailableReason

/// Random choices for kernel-acceptable programs.
private extension SplitMix64 {
    mutating func register() -> UInt8 { UInt8(below(10)) }
    mutating func immediate() -> Int32 {
        [0, 1, -1, 2, 31, 32, 63, 64, Int32.max, Int32.min, Int32(truncatingIfNeeded: next())][below(11)]
    }
}

/// A random straight-line-and-forward-branch program the kernel's verifier accepts: every
/// register starts from a constant, stack slots are written before they are read, shifts by an
/// immediate stay in range, no divisor is a zero immediate, and every branch goes forward. Every ALU operation of both widths,
/// byte swaps, sign-extending moves and 64-bit atomics appear. The epilogue folds all registers
/// into the 32 bits of r0 that BPF_PROG_TEST_RUN reports.
private func kernelAcceptableProgram(_ g: inout SplitMix64) -> [Instruction] {
    var code: [Instruction] = []
    for r in UInt8(0)...9 {
        let value = g.next()
        code.append(Instruction(opcode: 0x18, dst: r, imm: Int32(truncatingIfNeeded: value)))
        code.append(Instruction(opcode: 0, imm: Int32(truncatingIfNeeded: value >> 32)))
    }
    for slot in 1...4 { code.append(Instruction(opcode: 0x7b, dst: 10, src: g.register(), offset: Int16(-8 * slot))) }
    let bodyLength = 10 + g.below(40)
    var body: [Instruction] = []
    let aluOps: [UInt8] = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xb0, 0xc0]
    for _ in 0..<bodyLength {
        let cls: UInt8 = g.below(2) == 0 ? 0x07 : 0x04
        switch g.below(12) {
        case 0...5:
            let op = aluOps[g.below(aluOps.count)]
            let signed: Int16 = (op == 0x30 || op == 0x90) && g.below(2) == 0 ? 1 : 0
            if g.below(2) == 0 {
                var imm = g.immediate()
                if op == 0x60 || op == 0x70 || op == 0xc0 { imm = Int32(g.below(cls == 0x07 ? 64 : 32)) }
                if (op == 0x30 || op == 0x90) && imm == 0 { imm = 3 }  // the verifier refuses a constant zero divisor
                body.append(Instruction(opcode: cls | op, dst: g.register(), offset: signed, imm: imm))
            } else {
                body.append(Instruction(opcode: cls | 0x08 | op, dst: g.register(), src: g.register(), offset: signed))
            }
        case 6:
            body.append(
                [
                    Instruction(opcode: cls | 0x80, dst: g.register()),
                    Instruction(opcode: [0xd4, 0xdc, 0xd7][g.below(3)], dst: g.register(), imm: [16, 32, 64][g.below(3)]),
                    Instruction(opcode: 0xbf, dst: g.register(), src: g.register(), offset: [8, 16, 32][g.below(3)]),
                    Instruction(opcode: 0xbc, dst: g.register(), src: g.register(), offset: [8, 16][g.below(2)]),
                ][g.below(4)])
        case 7, 8:  // a conditional forward branch, resolved below
            let jumps: [UInt8] = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0]
            let jcls: UInt8 = g.below(2) == 0 ? 0x05 : 0x06
            let op = jumps[g.below(jumps.count)]
            body.append(
                g.below(2) == 0
                    ? Instruction(opcode: jcls | op, dst: g.register(), offset: -1, imm: g.immediate())
                    : Instruction(opcode: jcls | 0x08 | op, dst: g.register(), src: g.register(), offset: -1))
        case 9:
            let slot = Int16(-8 * (1 + g.below(4)))
            body.append(
                g.below(2) == 0
                    ? Instruction(opcode: 0x79, dst: g.register(), src: 10, offset: slot)
                    : Instruction(opcode: 0x7b, dst: 10, src: g.register(), offset: slot))
        case 10:
            let slot = Int16(-8 * (1 + g.below(4)))
            let atomic: [Int32] = [0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1]
            body.append(Instruction(opcode: 0xdb, dst: 10, src: g.register(), offset: slot, imm: atomic[g.below(atomic.count)]))
        default:
            body.append(
                Instruction(
                    opcode: 0x61 | [0x00, 0x08, 0x10, 0x18][g.below(4)] | (g.below(3) == 0 ? 0x20 : 0), dst: g.register(), src: 10,
                    offset: Int16(-8 * (1 + g.below(4)))))
        }
    }
    // Branch targets: anywhere later in the body, or the epilogue.
    for i in body.indices where body[i].offset == -1 && (body[i].opcode & 0x07 == 0x05 || body[i].opcode & 0x07 == 0x06) {
        body[i].offset = Int16(g.below(body.count - i))
    }
    code += body
    for r in UInt8(1)...9 { code.append(Instruction(opcode: 0xaf, dst: 0, src: r)) }  // r0 ^= rN
    code.append(Instruction(opcode: 0xbf, dst: 1, src: 0))  // r1 = r0
    code.append(Instruction(opcode: 0x77, dst: 1, imm: 32))  // r1 >>= 32
    code.append(Instruction(opcode: 0xaf, dst: 0, src: 1))  // r0 ^= r1
    code.append(Instruction(opcode: 0x95))
    return code
}

@Suite("Differential fuzzing against the Linux kernel")
struct KernelFuzzTests {
    @Test(
        "random programs give the kernel's results", .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        arguments: 0..<4)
    func randomProgramsAgainstKernel(seed: UInt64) throws {
        var g = SplitMix64(state: 0xC0FFEE &+ seed)
        let packet = [UInt8](repeating: 0, count: 64)
        var compared = 0, rejected: [String] = []
        for _ in 0..<300 {
            let code = kernelAcceptableProgram(&g)
            let kernel: KernelProgram
            do { kernel = try KernelProgram(type: .xdp, instructions: code) } catch {
                // The verifier's reason is the last line before its "processed N insns" summary.
                let lines = (error.log ?? "").split(separator: "\n").filter { !$0.hasPrefix("processed ") }
                rejected.append(lines.last.map(String.init) ?? error.description)
                continue
            }
            let expected = try kernel.testRun(data: packet).returnValue
            let ours = try Interpreter(code).run(mode: .checked())
            #expect(expected == UInt32(truncatingIfNeeded: ours), "kernel \(expected), ours \(ours):\n\(Disassembler.listing(code))")
            if JITProgram.isSupported {
                let native = try JITProgram(code).run()
                #expect(expected == UInt32(truncatingIfNeeded: native), "kernel \(expected), our JIT \(native):\n\(Disassembler.listing(code))")
            }
            compared += 1
        }
        #expect(rejected.isEmpty, "the kernel rejected \(rejected.count) programs: \(Set(rejected))")
        #expect(compared == 300)
    }
}

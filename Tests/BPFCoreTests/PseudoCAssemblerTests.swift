import BPFCore
import Testing

@Suite("Pseudo-C assembler")
struct PseudoCAssemblerTests {
    /// Instructions whose kernel-syntax text (the disassembler's) assembles back to them.
    static let roundTrip: [Instruction] = [
        Instruction(opcode: 0xb7, dst: 1, imm: -7), Instruction(opcode: 0xbc, dst: 2, src: 3),
        Instruction(opcode: 0x0f, dst: 1, src: 2), Instruction(opcode: 0x34, dst: 0, imm: 3),
        Instruction(opcode: 0x3f, dst: 4, src: 5, offset: 1), Instruction(opcode: 0x97, dst: 4, imm: 9),
        Instruction(opcode: 0xc7, dst: 3, imm: 5), Instruction(opcode: 0x87, dst: 6), Instruction(opcode: 0x84, dst: 6),
        Instruction(opcode: 0xdc, dst: 1, imm: 16), Instruction(opcode: 0xd4, dst: 1, imm: 32), Instruction(opcode: 0xd7, dst: 1, imm: 64),
        Instruction(opcode: 0xbf, dst: 1, src: 2, offset: 8), Instruction(opcode: 0xbc, dst: 1, src: 2, offset: 16),
        Instruction(opcode: 0x61, dst: 1, src: 2, offset: 4), Instruction(opcode: 0x91, dst: 1, src: 10, offset: -8),
        Instruction(opcode: 0x7b, dst: 10, src: 1, offset: -16), Instruction(opcode: 0x62, dst: 1, offset: 12, imm: -1),
        Instruction(opcode: 0xdb, dst: 1, src: 2, offset: 8, imm: 0x00),
        Instruction(opcode: 0x25, dst: 1, offset: 3, imm: 16), Instruction(opcode: 0x6e, dst: 1, src: 2, offset: -2),
        Instruction(opcode: 0x05, offset: 5), Instruction(opcode: 0x06, imm: -3),
        Instruction(opcode: 0x85, imm: 1), Instruction(opcode: 0x85, src: 1, imm: 4), Instruction(opcode: 0x8d, dst: 3),
        Instruction(opcode: 0x30, imm: 23), Instruction(opcode: 0x48, src: 7, imm: 4), Instruction(opcode: 0x95),
    ]

    @Test("the disassembler's text assembles back to the same instruction", arguments: roundTrip)
    func roundTrips(_ insn: Instruction) throws {
        let text = Disassembler.text(insn)
        #expect(try PseudoCAssembler.assemble(text) == [insn], "\(text)")
    }

    @Test("labels, wide immediates and map references")
    func labelsAndWide() throws {
        let code = try PseudoCAssembler.assemble(
            """
            r1 = 0x1122334455667788 ll
            r2 = map[idx:3]
            top:
            if r1 &== 0 goto top   ; PREVAIL's "no bit set"
            r0 = map[fd:2][0]+8
            exit
            """)
        #expect(code.count == 9)
        #expect(code[0] == Instruction(opcode: 0x18, dst: 1, imm: 0x5566_7788) && code[1].imm == 0x1122_3344)
        #expect(code[2] == Instruction(opcode: 0x18, dst: 2, src: 5, imm: 3))
        #expect(code[4] == Instruction(opcode: 0x45, dst: 1, offset: 1) && code[5] == Instruction(opcode: 0x05, offset: -2))
        #expect(code[6] == Instruction(opcode: 0x18, src: 2, imm: 2) && code[7].imm == 8)
    }

    @Test(
        "bad text is refused with its line, never a crash",
        arguments: [
            "r11 = 1", "r1 = map_fd 99999999999", "r1 += 0x1ffffffff", "*(u32 *)(r1 + 99999) = 1", "frobnicate r1", "call not_a_helper",
            "goto pc+40000", "r1 = be16 r2",
        ])
    func refuses(_ text: String) {
        #expect(throws: AssemblyError.self) { try PseudoCAssembler.assemble("r0 = 0\n" + text) }
        do { _ = try PseudoCAssembler.assemble("r0 = 0\n" + text) } catch { #expect(error.line == 2) }
    }
}

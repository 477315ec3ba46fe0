import BPFCore
import Testing

private let exit = Instruction(opcode: 0x95)

@Suite("Structural validation")
struct ValidatorTests {
    @Test("well-formed programs pass")
    func accepts() throws {
        try Validator.validate([Instruction(opcode: 0xb7, imm: 1), exit])
        try Validator.validate([Instruction(opcode: 0x18, dst: 1, imm: 1), Instruction(opcode: 0, imm: 2), exit])
        try Validator.validate([Instruction(opcode: 0x05, offset: -1)])  // ends with a jump
    }

    @Test(
        "malformed programs fail at the right instruction",
        arguments: [
            ([Instruction](), 0, "empty program"),
            ([Instruction(opcode: 0xb7, dst: 11), exit], 0, "R11 is invalid"),
            ([Instruction(opcode: 0xb7, dst: 10), exit], 0, "frame pointer is read only"),
            ([Instruction(opcode: 0x18, dst: 10), Instruction(opcode: 0), exit], 0, "frame pointer is read only"),
            ([Instruction(opcode: 0xdb, dst: 1, src: 10, imm: 0x01), exit], 0, "frame pointer is read only"),
            ([Instruction(opcode: 0x79, dst: 10, src: 1), exit], 0, "frame pointer is read only"),
            ([Instruction(opcode: 0x07, src: 1, imm: 1), exit], 0, "reserved fields"),
            ([Instruction(opcode: 0x0f, imm: 1), exit], 0, "reserved fields"),
            ([Instruction(opcode: 0x95, imm: 1), exit], 0, "reserved fields"),
            ([Instruction(opcode: 0xb7), Instruction(opcode: 0xff), exit], 1, "unknown opcode 0xff"),
            ([Instruction(opcode: 0x05, offset: 5), exit], 0, "jump out of range"),
            ([Instruction(opcode: 0x05, offset: 1), Instruction(opcode: 0x18), Instruction(opcode: 0), exit], 0, "middle of ldimm64"),
            ([exit, Instruction(opcode: 0x18)], 1, "missing second half"),
            ([Instruction(opcode: 0x18), Instruction(opcode: 0x07, imm: 1), exit], 1, "second half"),
            ([Instruction(opcode: 0xb7)], 0, "last insn is not an exit or jmp"),
            ([Instruction(opcode: 0xdc, dst: 0, imm: 17), exit], 0, "invalid width"),
            ([Instruction(opcode: 0xdb, src: 1, imm: 0x02), exit], 0, "invalid atomic opcode"),
            ([Instruction(opcode: 0xd3, src: 1, imm: 0x00), exit], 0, "invalid atomic operand size"),
            ([Instruction(opcode: 0x85, src: 3, imm: 1), exit], 0, "reserved fields"),
            ([Instruction(opcode: 0x18, src: 7), Instruction(opcode: 0), exit], 0, "unrecognized bpf_ld_imm64"),
        ] as [([Instruction], Int, String)])
    func rejects(program: [Instruction], index: Int, message: String) {
        do {
            try Validator.validate(program)
            Issue.record("accepted a malformed program")
        } catch {
            #expect(error.index == index)
            #expect(error.reason.contains(message), "\(error)")
        }
    }
}

import BPFCore
import Testing

@Suite("Assembler and disassembler")
struct AssemblerTests {
    /// Each line assembles to one instruction whose kernel-syntax text is given.
    @Test(
        "assembly and the kernel's verifier-log syntax",
        arguments: [
            ("mov %r0, 1", "r0 = 1"),
            ("mov32 %r0, -1", "w0 = -1"),
            ("add %r1, %r2", "r1 += r2"),
            ("sub32 %r3, 5", "w3 -= 5"),
            ("arsh %r1, 3", "r1 s>>= 3"),
            ("sdiv %r1, %r2", "r1 s/= r2"),
            ("smod32 %r1, 7", "w1 s%= 7"),
            ("neg %r4", "r4 = -r4"),
            ("neg32 %r4", "w4 = -w4"),
            ("be16 %r1", "r1 = be16 r1"),
            ("le32 %r1", "r1 = le32 r1"),
            ("bswap64 %r1", "r1 = bswap64 r1"),
            ("movsx832 %r0, %r1", "w0 = (s8)w1"),
            ("movsx3264 %r0, %r1", "r0 = (s32)r1"),
            ("ldxw %r1, [%r2+4]", "r1 = *(u32 *)(r2 +4)"),
            ("ldxsh %r1, [%r10-2]", "r1 = *(s16 *)(r10 -2)"),
            ("ldxdw %r0, [%r1]", "r0 = *(u64 *)(r1 +0)"),
            ("stw [%r10-8], 5", "*(u32 *)(r10 -8) = 5"),
            ("stxdw [%r10-8], %r1", "*(u64 *)(r10 -8) = r1"),
            ("jgt %r1, 0x10, +3", "if r1 > 0x10 goto pc+3"),
            ("jsle32 %r1, %r2, -1", "if w1 s<= w2 goto pc-1"),
            ("ja +2", "goto pc+2"),
            ("ja32 +70000", "gotol pc+70000"),
            ("call 1", "call bpf_map_lookup_elem#1"),
            ("call bpf_ktime_get_ns", "call bpf_ktime_get_ns#5"),
            ("call %r2", "callx r2"),
            ("exit", "exit"),
            ("lock add [%r10-8], %r1", "lock *(u64 *)(r10 -8) += r1"),
            ("lock fetch add32 [%r1+4], %r2", "r2 = atomic_fetch_add((u32 *)(r1 +4), r2)"),
            ("lock xchg [%r1+0], %r2", "r2 = atomic64_xchg((u64 *)(r1 +0), r2)"),
            ("lock cmpxchg32 [%r1+0], %r2", "r0 = atomic_cmpxchg((u32 *)(r1 +0), r0, r2)"),
            ("ldabsh 12", "r0 = *(u16 *)skb[12]"),
            ("ldindb %r3, 2", "r0 = *(u8 *)skb[r3 + 2]"),
        ])
    func syntax(source: String, expected: String) throws {
        let code = try Assembler.assemble(source)
        #expect(code.count == 1)
        #expect(Disassembler.text(code[0]) == expected)
        #expect(Validator.problem(code[0]) == nil)
    }

    @Test("lddw takes two slots and prints as one")
    func wide() throws {
        let code = try Assembler.assemble("lddw %r1, 0x1122334455667788\nexit")
        #expect(code.count == 3)
        #expect(code[0] == Instruction(opcode: 0x18, dst: 1, imm: 0x55667788))
        #expect(code[1] == Instruction(opcode: 0, imm: 0x11223344))
        #expect(Disassembler.listing(code) == "0: (18) r1 = 0x1122334455667788\n2: (95) exit")
        let negative = try Assembler.assemble("lddw %r0, -1\nexit")
        #expect(negative[0].imm == -1 && negative[1].imm == -1)
    }

    @Test("labels resolve forwards and backwards; local calls use imm")
    func labels() throws {
        let code = try Assembler.assemble(
            """
            start:
            jeq %r1, 0, done   # forward
            call local fn
            ja start
            done:
            exit
            fn:
            exit
            """)
        #expect(code[0].offset == 2)
        #expect(code[1].src == CallKind.local.rawValue && code[1].imm == 2)
        #expect(code[2].offset == -3)
        try Validator.validate(code)
    }

    @Test(
        "errors name the line and the problem",
        arguments: [
            ("mov %r0, 1\nmov32 %r0, 2147483648", 2, "does not fit in 32 bits"),
            ("mov32 %r0, 0x100000000", 1, "does not fit in 32 bits"),
            ("\n\nja NOT_A_LABEL", 3, "unknown label"),
            ("lock or [%r10-8]", 1, "Invalid number of operands for lock"),
            ("ldxq %r0, %r1", 1, "invalid mnemonic"),
            ("ldxb %r0, %r1", 1, "invalid memory operand"),
            ("ldxb %r0, [%r1+0x10000]", 1, "16 signed bits"),
            ("lddw %r0", 1, "invalid number of operands"),
            ("or %r0, %r50", 1, "invalid register"),
            ("x:\nx:\nexit", 2, "duplicate label"),
            ("jeq %r0, 0, +40000", 1, "does not fit in 16 bits"),
        ])
    func errors(source: String, line: Int, message: String) {
        #expect {
            _ = try Assembler.assemble(source)
        } throws: { error in
            guard let error = error as? AssemblyError else { return false }
            return error.line == line && error.message.contains(message)
        }
    }

    @Test("32-bit hex immediates are bit patterns; decimal ones are signed")
    func immediates() throws {
        #expect(try Assembler.assemble("mov32 %r0, 0xffffffff")[0].imm == -1)
        #expect(try Assembler.assemble("mov32 %r0, -2147483648")[0].imm == Int32.min)
    }

    @Test("every opcode the validator accepts has a disassembly")
    func exhaustiveDisassembly() {
        // Sweep all opcodes with representative fields: whatever validates must print as an
        // instruction, never as the disassembler's "invalid" fallback.
        var checked = 0
        for opcode in 0...255 {
            for (src, offset, imm): (UInt8, Int16, Int32) in [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 16), (0, 8, 0), (0, 0, 0x41), (2, 0, 0)] {
                let insn = Instruction(opcode: UInt8(opcode), dst: 1, src: src, offset: offset, imm: imm)
                guard Validator.problem(insn) == nil, !insn.isWide else { continue }
                #expect(!Disassembler.text(insn).hasPrefix("invalid"), "opcode \(opcode)")
                checked += 1
            }
        }
        #expect(checked > 150)
    }
}

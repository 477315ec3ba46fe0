public import BPFCore

extension ClassicProgram {
    /// The program in eBPF, as the kernel's `bpf_convert_filter` writes it, for a socket buffer
    /// context (r1): A in r0, X in r7, r2 a scratch register, the context kept in r6 (which
    /// `LD_ABS`/`LD_IND` read through), scratch word k at `fp - (16 - k) * 4`. A division by an
    /// X of zero returns 0, as in classic BPF; immediates that eBPF would sign-extend are
    /// compared through r2.
    public var ebpf: [BPFCore.Instruction] {
        // Two passes: the eBPF length of each classic instruction, then the code with jumps.
        let prologue = 3
        var starts: [Int] = []
        var position = prologue
        for insn in instructions {
            starts.append(position)
            position += Self.translate(insn, at: 0, targets: { _ in 0 }).count
        }
        var code: [BPFCore.Instruction] = [
            .init(opcode: 0xb4, dst: 0), .init(opcode: 0xb4, dst: 7),  // A = 0, X = 0
            .init(opcode: 0xbf, dst: 6, src: 1),  // the context
        ]
        for (pc, insn) in instructions.enumerated() {
            code += Self.translate(insn, at: starts[pc]) { classicTarget in starts[pc + 1 + classicTarget] }
        }
        return code
    }

    /// The eBPF of one instruction placed at `at`; `targets` gives the eBPF index of the classic
    /// instruction `n` after the next.
    private static func translate(_ insn: Instruction, at: Int, targets: (Int) -> Int) -> [BPFCore.Instruction] {
        let k = Int32(bitPattern: insn.k)
        let a: UInt8 = 0, x: UInt8 = 7, tmp: UInt8 = 2, ctx: UInt8 = 6, fp: UInt8 = 10
        func scratch(_ word: UInt32) -> Int16 { -Int16((ClassicProgram.memoryWords - Int(word)) * 4) }
        switch insn.instructionClass {
        case 0x04:  // ALU: 32-bit, on A
            if insn.op == 0x80 { return [.init(opcode: 0x84, dst: a)] }  // NEG
            let op = UInt8(insn.op)
            if insn.usesX {
                let alu = BPFCore.Instruction(opcode: 0x0c | op, dst: a, src: x)
                // A division or remainder by X = 0 ends the program returning 0.
                guard op == 0x30 || op == 0x90 else { return [alu] }
                return [.init(opcode: 0x55, dst: x, offset: 2), .init(opcode: 0xac, dst: a, src: a), .init(opcode: 0x95), alu]
            }
            return [.init(opcode: 0x04 | op, dst: a, imm: k)]
        case 0x00, 0x01:  // LD, LDX
            let dst = insn.instructionClass == 0x00 ? a : x
            switch insn.mode {
            case 0x00: return [.init(opcode: 0xb4, dst: dst, imm: k)]  // IMM
            case 0x60: return [.init(opcode: 0x61, dst: dst, src: fp, offset: scratch(insn.k))]  // MEM
            case 0x80: return [.init(opcode: 0x61, dst: dst, src: ctx, offset: 0)]  // LEN: skb->len
            case 0x20: return [.init(opcode: 0x20 | UInt8(insn.size), imm: k)]  // ABS
            case 0x40: return [.init(opcode: 0x40 | UInt8(insn.size), src: x, imm: k)]  // IND
            default:  // LDX B MSH: X = 4 * (P[k] & 0xf), A kept in X meanwhile
                return [
                    .init(opcode: 0xbf, dst: x, src: a), .init(opcode: 0x30, imm: k), .init(opcode: 0x54, dst: a, imm: 0xf),
                    .init(opcode: 0x64, dst: a, imm: 2), .init(opcode: 0xbf, dst: tmp, src: x), .init(opcode: 0xbf, dst: x, src: a),
                    .init(opcode: 0xbf, dst: a, src: tmp),
                ]
            }
        case 0x02: return [.init(opcode: 0x63, dst: fp, src: a, offset: scratch(insn.k))]  // ST
        case 0x03: return [.init(opcode: 0x63, dst: fp, src: x, offset: scratch(insn.k))]  // STX
        case 0x06:  // RET
            return insn.code == 0x16 ? [.init(opcode: 0x95)] : [.init(opcode: 0xb4, dst: a, imm: k), .init(opcode: 0x95)]
        case 0x07:  // MISC
            return [insn.code == 0x07 ? .init(opcode: 0xbf, dst: x, src: a) : .init(opcode: 0xbf, dst: a, src: x)]
        default:  // JMP
            func jump(from i: Int, to target: Int) -> Int16 { Int16(truncatingIfNeeded: target - i - 1) }
            if insn.op == 0x00 { return [.init(opcode: 0x05, offset: jump(from: at, to: targets(Int(insn.k))))] }
            var out: [BPFCore.Instruction] = []
            var condition = BPFCore.Instruction(opcode: 0x05 | UInt8(insn.op), dst: a, imm: k)
            if insn.usesX {
                condition = .init(opcode: 0x0d | UInt8(insn.op), dst: a, src: x)
            } else if k < 0 {
                // eBPF sign-extends immediates; classic BPF compares the u32.
                out.append(.init(opcode: 0xb4, dst: tmp, imm: k))
                condition = .init(opcode: 0x0d | UInt8(insn.op), dst: a, src: tmp)
            }
            let conditionAt = at + out.count
            condition.offset = jump(from: conditionAt, to: targets(Int(insn.jt)))
            out.append(condition)
            out.append(.init(opcode: 0x05, offset: jump(from: conditionAt + 1, to: targets(Int(insn.jf)))))
            return out
        }
    }
}

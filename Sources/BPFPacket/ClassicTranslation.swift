public import BPFCore

extension ClassicProgram {
    /// The program in eBPF, as the kernel's `bpf_convert_filter` writes it, for a tc
    /// classifier's socket buffer (r1), whose packet starts at its Ethernet header: A in r0, X in
    /// r7, r2 and r3 scratch, the context in r6, the packet's start and end in r8 and r9 (loads
    /// at constant offsets read it directly after a bounds check, as the kernel's
    /// `convert_bpf_ld_abs` does; one past the end returns 0, as in classic BPF), scratch word k
    /// at `fp - (16 - k) * 4`. A division by an X of zero returns 0; immediates that eBPF
    /// would sign-extend are compared through r2.
    public var ebpf: [BPFCore.Instruction] { ebpf(directPacketAccess: true) }

    /// The program in eBPF for a socket filter (`BPF_PROG_TYPE_SOCKET_FILTER`, which
    /// `SO_ATTACH_BPF` attaches): every packet load through `LD_ABS`/`LD_IND`, as socket filters
    /// cannot read the packet directly.
    public var socketFilterEBPF: [BPFCore.Instruction] { ebpf(directPacketAccess: false) }

    private func ebpf(directPacketAccess: Bool) -> [BPFCore.Instruction] {
        // Two passes: the eBPF length of each classic instruction, then the code with jumps.
        var code: [BPFCore.Instruction] = [
            .init(opcode: 0xb4, dst: 0), .init(opcode: 0xb4, dst: 7),  // A = 0, X = 0
            .init(opcode: 0xbf, dst: 6, src: 1),  // the context
        ]
        if directPacketAccess {
            code += [.init(opcode: 0x61, dst: 8, src: 6, offset: 76), .init(opcode: 0x61, dst: 9, src: 6, offset: 80)]  // data, data_end
        }
        var starts: [Int] = []
        var position = code.count
        for (pc, insn) in instructions.enumerated() {
            starts.append(position)
            if reachable[pc] { position += Self.translate(insn, at: 0, targets: { _ in 0 }, fail: 0, direct: directPacketAccess).count }
        }
        let fail = position  // A = 0; exit
        for (pc, insn) in instructions.enumerated() where reachable[pc] {
            code += Self.translate(
                insn, at: starts[pc], targets: { classicTarget in starts[pc + 1 + classicTarget] }, fail: fail, direct: directPacketAccess)
        }
        // The epilogue only when a load can jump to it: the kernel refuses unreachable code.
        let directLoads = instructions.indices.contains { pc in
            let insn = instructions[pc]
            return reachable[pc] && (insn.mode == 0x20 || insn.mode == 0xa0) && insn.instructionClass <= 0x01 && insn.k < 0xffff
        }
        return directPacketAccess && directLoads ? code + [.init(opcode: 0xb4, dst: 0), .init(opcode: 0x95)] : code
    }

    /// The eBPF of one instruction placed at `at`; `targets` gives the eBPF index of the classic
    /// instruction `n` after the next.
    private static func translate(_ insn: Instruction, at: Int, targets: (Int) -> Int, fail: Int, direct packetAccess: Bool) -> [BPFCore.Instruction] {
        let k = Int32(bitPattern: insn.k)
        let a: UInt8 = 0, x: UInt8 = 7, tmp: UInt8 = 2, ctx: UInt8 = 6, fp: UInt8 = 10, data: UInt8 = 8, dataEnd: UInt8 = 9
        /// `dst = P[k:size]` read directly: past the packet's end, to `fail`.
        func load(_ dst: UInt8, size: UInt16, at first: Int) -> [BPFCore.Instruction] {
            let bytes = [0x00: 4, 0x08: 2, 0x10: 1][Int(size)]!
            var out: [BPFCore.Instruction] = [.init(opcode: 0xbf, dst: 3, src: data), .init(opcode: 0x07, dst: 3, imm: k + Int32(bytes))]
            out.append(.init(opcode: 0x2d, dst: 3, src: dataEnd, offset: Int16(truncatingIfNeeded: fail - (first + out.count) - 1)))
            out.append(.init(opcode: 0x61 | UInt8(size), dst: dst, src: 3, offset: -Int16(bytes)))
            if bytes > 1 { out.append(.init(opcode: 0xdc, dst: dst, imm: Int32(bytes * 8))) }  // network order
            return out
        }
        // Direct loads at offsets the packet could have (below 64 KiB); LD_ABS for the others.
        let direct = packetAccess && k >= 0 && k < 0xffff
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
            case 0x20: return direct ? load(a, size: insn.size, at: at) : [.init(opcode: 0x20 | UInt8(insn.size), imm: k)]  // ABS
            case 0x40: return [.init(opcode: 0x40 | UInt8(insn.size), src: x, imm: k)]  // IND
            default:  // LDX B MSH: X = 4 * (P[k] & 0xf)
                if direct {
                    return load(x, size: 0x10, at: at) + [.init(opcode: 0x54, dst: x, imm: 0xf), .init(opcode: 0x64, dst: x, imm: 2)]
                }
                // Through LD_ABS, which writes r0: A kept in X meanwhile.
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
            // The false branch: a jump, unless it is the next instruction (in both passes, so
            // that lengths agree: decided by the classic offsets alone).
            if insn.jf != 0 { out.append(.init(opcode: 0x05, offset: jump(from: conditionAt + 1, to: targets(Int(insn.jf))))) }
            return out
        }
    }
}

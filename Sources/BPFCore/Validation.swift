/// Why an instruction sequence is not a well-formed eBPF program, and where.
public struct ValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Index of the offending instruction slot.
    public var index: Int
    /// The offending instruction, when there is one.
    public var instruction: Instruction?
    /// What is wrong, in the kernel's vocabulary where it has one.
    public var reason: String

    public var description: String {
        guard let instruction else { return "instruction \(index): \(reason)" }
        let hex = hexString(instruction.bytes, separator: " ")
        return "instruction \(index) (\(hex)): \(reason)"
    }
}

/// Structural validation of an instruction sequence: every opcode known, every unused field
/// zero, registers in range, jumps and calls inside the program and never into the middle of a
/// `lddw`, and a last instruction that cannot fall through — the checks the kernel makes before
/// its verifier runs. It proves nothing about memory safety or termination.
package enum Validator {
    /// Validates `instructions`, returning normally when the sequence is well formed.
    public static func validate(_ instructions: [Instruction]) throws(ValidationError) {
        guard !instructions.isEmpty else { throw ValidationError(index: 0, reason: "empty program") }
        guard instructions.count <= BPFLimits.maxInstructions else {
            throw ValidationError(
                index: BPFLimits.maxInstructions, reason: "program too large (\(instructions.count) instructions, the limit is \(BPFLimits.maxInstructions))")
        }
        // First pass: which slots are the second half of a lddw.
        var isTail = [Bool](repeating: false, count: instructions.count)
        var i = 0
        while i < instructions.count {
            if instructions[i].isWide {
                guard i + 1 < instructions.count else {
                    throw ValidationError(index: i, instruction: instructions[i], reason: "invalid bpf_ld_imm64 insn: missing second half")
                }
                isTail[i + 1] = true
                i += 2
            } else {
                i += 1
            }
        }
        i = 0
        while i < instructions.count {
            let insn = instructions[i]
            func fail(_ reason: String) -> ValidationError { ValidationError(index: i, instruction: insn, reason: reason) }
            if let reason = problem(insn) { throw fail(reason) }
            if insn.isWide {
                let next = instructions[i + 1]
                if next.opcode != 0 || next.dst != 0 || next.src != 0 || next.offset != 0 {
                    throw ValidationError(index: i + 1, instruction: next, reason: "invalid bpf_ld_imm64 insn: second half must be zero but for imm")
                }
            }
            if let displacement = branchDisplacement(insn) {
                let target = i + 1 + displacement
                guard target >= 0, target < instructions.count else { throw fail("jump out of range from insn \(i) to \(target)") }
                guard !isTail[target] else { throw fail("jump into the middle of ldimm64 insn \(target - 1)") }
            }
            i += insn.isWide ? 2 : 1
        }
        let last = instructions.count - 1
        let lastInsn = instructions[last]
        let endsFlow = lastInsn.opcode == 0x95 || lastInsn.opcode == 0x05 || lastInsn.opcode == 0x06
        if !endsFlow || isTail[last] {
            throw ValidationError(index: last, instruction: lastInsn, reason: "last insn is not an exit or jmp")
        }
    }

    /// The relative displacement of a jump or local call, or nil for any other instruction.
    public static func branchDisplacement(_ insn: Instruction) -> Int? {
        let cls = insn.opClass
        guard cls == .jmp || cls == .jmp32 else { return nil }
        let op = insn.opcode & 0xf0
        if op == JumpOp.exit.rawValue { return nil }
        if op == JumpOp.call.rawValue {
            return insn.opcode == 0x85 && insn.src == CallKind.local.rawValue ? Int(insn.imm) : nil
        }
        if insn.opcode == 0x06 { return Int(insn.imm) }  // gotol: 32-bit displacement in imm
        return Int(insn.offset)
    }

    /// The first structural problem of a single instruction slot, or nil when it is well formed.
    public static func problem(_ insn: Instruction) -> String? {
        guard insn.dst <= 10 else { return "R\(insn.dst) is invalid" }
        guard insn.src <= 10 || insn.opcode == 0x18 || insn.opcode == 0x85 else { return "R\(insn.src) is invalid" }
        switch insn.opClass {
        case .alu, .alu64: return aluProblem(insn)
        case .jmp, .jmp32: return jumpProblem(insn)
        case .ld: return ldProblem(insn)
        case .ldx:
            guard insn.imm == 0 else { return "BPF_LDX uses reserved fields" }
            let mode = insn.opcode & 0xe0
            if mode == MemMode.mem.rawValue { break }
            if mode == MemMode.memsx.rawValue, insn.opcode & 0x18 != MemSize.dw.rawValue { break }
            return "unknown opcode \(hex(insn.opcode))"
        case .st:
            guard insn.opcode & 0xe0 == MemMode.mem.rawValue else { return "unknown opcode \(hex(insn.opcode))" }
            guard insn.src == 0 else { return "BPF_ST uses reserved fields" }
        case .stx:
            let mode = insn.opcode & 0xe0
            if mode == MemMode.mem.rawValue {
                guard insn.imm == 0 else { return "BPF_STX uses reserved fields" }
            } else if mode == MemMode.atomic.rawValue {
                let size = insn.opcode & 0x18
                guard size == MemSize.w.rawValue || size == MemSize.dw.rawValue else { return "invalid atomic operand size" }
                guard AtomicOp(rawValue: insn.imm) != nil else { return "BPF_ATOMIC uses invalid atomic opcode \(hex(UInt8(truncatingIfNeeded: insn.imm)))" }
            } else {
                return "unknown opcode \(hex(insn.opcode))"
            }
        }
        // Instructions that write a register may not write r10.
        if insn.dst == 10, insn.opClass == .ldx || insn.opClass == .ld { return "frame pointer is read only" }
        if insn.src == 10, insn.opClass == .stx, insn.opcode & 0xe0 == MemMode.atomic.rawValue,
            let op = AtomicOp(rawValue: insn.imm), op.fetches, op != .cmpxchg
        {
            return "frame pointer is read only"
        }
        return nil
    }

    private static func aluProblem(_ insn: Instruction) -> String? {
        guard let op = ALUOp(rawValue: insn.opcode & 0xf0) else { return "unknown opcode \(hex(insn.opcode))" }
        let is64 = insn.opClass == .alu64
        let usesRegister = insn.opcode & 0x08 != 0
        guard insn.dst != 10 else { return "frame pointer is read only" }
        switch op {
        case .neg:
            guard !usesRegister, insn.src == 0, insn.offset == 0, insn.imm == 0 else { return "BPF_NEG uses reserved fields" }
        case .end:
            guard insn.src == 0, insn.offset == 0 else { return "BPF_END uses reserved fields" }
            guard insn.imm == 16 || insn.imm == 32 || insn.imm == 64 else { return "BPF_END uses invalid width \(insn.imm)" }
            if is64, usesRegister { return "unknown opcode \(hex(insn.opcode))" }
        default:
            let offsetOK: Bool
            switch op {
            case .div, .mod: offsetOK = insn.offset == 0 || insn.offset == 1
            case .mov where usesRegister: offsetOK = insn.offset == 0 || insn.offset == 8 || insn.offset == 16 || (is64 && insn.offset == 32)
            default: offsetOK = insn.offset == 0
            }
            guard offsetOK else { return "BPF_ALU uses reserved fields" }
            if usesRegister {
                guard insn.imm == 0 else { return "BPF_ALU uses reserved fields" }
            } else {
                guard insn.src == 0 else { return "BPF_ALU uses reserved fields" }
            }
        }
        return nil
    }

    private static func jumpProblem(_ insn: Instruction) -> String? {
        guard let op = JumpOp(rawValue: insn.opcode & 0xf0) else { return "unknown opcode \(hex(insn.opcode))" }
        let usesRegister = insn.opcode & 0x08 != 0
        let is32 = insn.opClass == .jmp32
        switch op {
        case .ja:
            guard !usesRegister, insn.src == 0, insn.dst == 0 else { return "BPF_JA uses reserved fields" }
            if is32 {
                guard insn.offset == 0 else { return "BPF_JA uses reserved fields" }
            } else {
                guard insn.imm == 0 else { return "BPF_JA uses reserved fields" }
            }
        case .call:
            guard !is32 else { return "unknown opcode \(hex(insn.opcode))" }
            guard insn.offset == 0 else { return "BPF_CALL uses reserved fields" }
            if usesRegister {
                // callx: the register holding the target is in dst.
                guard insn.src == 0, insn.imm == 0 else { return "BPF_CALL uses reserved fields" }
            } else {
                guard insn.dst == 0, CallKind(rawValue: insn.src) != nil else { return "BPF_CALL uses reserved fields" }
            }
        case .exit:
            guard !is32, !usesRegister, insn.src == 0, insn.dst == 0, insn.offset == 0, insn.imm == 0 else {
                return is32 ? "unknown opcode \(hex(insn.opcode))" : "BPF_EXIT uses reserved fields"
            }
        default:
            if usesRegister {
                guard insn.imm == 0 else { return "BPF_JMP/JMP32 uses reserved fields" }
            } else {
                guard insn.src == 0 else { return "BPF_JMP/JMP32 uses reserved fields" }
            }
        }
        return nil
    }

    private static func ldProblem(_ insn: Instruction) -> String? {
        let mode = insn.opcode & 0xe0, size = insn.opcode & 0x18
        switch mode {
        case MemMode.imm.rawValue:
            guard size == MemSize.dw.rawValue else { return "unknown opcode \(hex(insn.opcode))" }
            guard insn.offset == 0 else { return "invalid bpf_ld_imm64 insn" }
            guard insn.dst != 10 else { return "frame pointer is read only" }
            guard WideImmediateKind(rawValue: insn.src) != nil else { return "unrecognized bpf_ld_imm64 insn" }
        case MemMode.abs.rawValue, MemMode.ind.rawValue:
            guard size != MemSize.dw.rawValue else { return "unknown opcode \(hex(insn.opcode))" }
            guard insn.dst == 0, insn.offset == 0 else { return "BPF_LD_[ABS|IND] uses reserved fields" }
            if mode == MemMode.abs.rawValue, insn.src != 0 { return "BPF_LD_[ABS|IND] uses reserved fields" }
        default:
            return "unknown opcode \(hex(insn.opcode))"
        }
        return nil
    }
}

func hex(_ v: UInt8) -> String { "0x" + hexString(CollectionOfOne(v)) }

extension String {
    /// The text right-aligned in `width` columns, `pad` on its left.
    package func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}

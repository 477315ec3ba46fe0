import BPFCore

/// Where a path goes after one instruction.
enum Next {
    /// On to this instruction.
    case next(Int)
    /// On to the next instruction in the (narrowed) current state; the jump's side, when it
    /// can happen, is a new path to explore.
    case branch(taken: VerifierState?, target: Int)
    /// Only the jump can happen.
    case jump(Int)
    /// The path ends here.
    case end
}

extension Analysis {
    /// What instruction `pc` does to `s`, or why it is unsafe.
    mutating func step(_ s: inout VerifierState, _ pc: Int) throws(VerificationError) -> Next {
        let insn = code[pc]
        switch insn.opClass {
        case .alu, .alu64:
            try arithmetic(&s, pc, insn)
            return .next(pc + 1)
        case .ld:
            try loadImmediateOrPacket(&s, pc, insn)
            return .next(pc + (insn.isWide ? 2 : 1))
        case .ldx:
            let base = try readable(s, pc, Int(insn.src))
            let size = MemSize(rawValue: insn.opcode & 0x18)!.byteCount
            let signed = insn.opcode & 0xe0 == MemMode.memsx.rawValue
            let value = try access(&s, pc, base: base, regno: Int(insn.src), offset: Int64(insn.offset), size: size, mode: .read(signed: signed))
            try writeRegister(&s, pc, Int(insn.dst), value)
            return .next(pc + 1)
        case .st, .stx:
            let base = try readable(s, pc, Int(insn.dst))
            let size = MemSize(rawValue: insn.opcode & 0x18)!.byteCount
            if insn.opClass == .stx, insn.opcode & 0xe0 == MemMode.atomic.rawValue {
                try atomic(&s, pc, insn, base: base, size: size)
                return .next(pc + 1)
            }
            let stored: Register
            if insn.opClass == .stx {
                stored = try readable(s, pc, Int(insn.src))
            } else {
                stored = .scalar(.constant(UInt64(bitPattern: Int64(insn.imm))))
            }
            _ = try access(&s, pc, base: base, regno: Int(insn.dst), offset: Int64(insn.offset), size: size, mode: .write(stored))
            return .next(pc + 1)
        case .jmp, .jmp32:
            return try jump(&s, pc, insn)
        }
    }

    // MARK: - Registers

    /// Register `r`, which must have been written. (`mutating` only so that callers, all
    /// mutating, pass `self` in place rather than copying it for every register read.)
    @inline(__always) mutating func readable(_ s: VerifierState, _ pc: Int, _ r: Int) throws(VerificationError) -> Register {
        guard r <= 10 else { throw error(pc, s, "R\(r) is invalid") }
        let value = s[register: r]
        guard value.isInitialized else { throw error(pc, s, "R\(r) !read_ok") }
        return value
    }

    func writeRegister(_ s: inout VerifierState, _ pc: Int, _ r: Int, _ value: Register) throws(VerificationError) {
        guard r < 10 else { throw error(pc, s, r == 10 ? "frame pointer is read only" : "R\(r) is invalid") }
        s[register: r] = value
    }

    // MARK: - Arithmetic

    private mutating func arithmetic(_ s: inout VerifierState, _ pc: Int, _ insn: Instruction) throws(VerificationError) {
        let is64 = insn.opClass == .alu64
        guard let op = ALUOp(rawValue: insn.opcode & 0xf0) else { throw error(pc, s, "invalid BPF_ALU opcode \(hex(insn.opcode))") }
        let d = Int(insn.dst)
        let usesRegister = insn.opcode & 0x08 != 0
        guard d != 10 else { throw error(pc, s, "frame pointer is read only") }

        if op == .mov {
            var result: Register
            if usesRegister {
                let src = try readable(s, pc, Int(insn.src))
                if insn.offset != 0 {  // movsx
                    guard src.isScalar else { throw error(pc, s, "R\(insn.src) sign-extension of a pointer is not allowed") }
                    result = .scalar(Self.signExtend(src.value, fromBytes: Int(insn.offset) / 8, is64: is64))
                } else if is64 {
                    result = src
                    if src.isScalar {
                        // A copy: later comparisons of either narrow both.
                        if result.id == 0 { result.id = freshID(); s[register: Int(insn.src)].id = result.id }
                    }
                } else {
                    result = .scalar(src.isScalar ? src.value.low32 : .unsignedRange(0, 0xffff_ffff))
                }
            } else {
                let imm = Int64(insn.imm)
                result = .scalar(.constant(is64 ? UInt64(bitPattern: imm) : UInt64(UInt32(bitPattern: insn.imm))))
            }
            try writeRegister(&s, pc, d, result)
            return
        }

        var dst = try readable(s, pc, d)
        if op == .neg || op == .end {
            guard dst.isScalar else { throw error(pc, s, "R\(d) \(op == .neg ? "negation" : "byte swap") of a pointer is prohibited") }
            dst.value = op == .neg ? ScalarBounds.apply(.neg, dst.value, .constant(0), is64: is64) : Self.byteSwap(dst.value, insn)
            dst.id = 0
            s[register: d] = dst
            return
        }

        let src: Register
        if usesRegister {
            src = try readable(s, pc, Int(insn.src))
        } else {
            if config.kernelRules, op == .lsh || op == .rsh || op == .arsh, insn.imm < 0 || insn.imm >= (is64 ? 64 : 32) {
                throw error(pc, s, "invalid shift \(insn.imm)")
            }
            if op == .div || op == .mod, insn.imm == 0, config.kernelRules || config.rejectDivisionByZero {
                throw error(pc, s, "div by zero")
            }
            src = .scalar(.constant(is64 ? UInt64(bitPattern: Int64(insn.imm)) : UInt64(UInt32(bitPattern: insn.imm))))
        }

        if !dst.isScalar || !src.isScalar {
            // The offset a pointer moves by is relied on, to the byte.
            if dst.isScalar { precisionRequest |= 1 << UInt16(d) }
            if src.isScalar, usesRegister { precisionRequest |= 1 << UInt16(insn.src) }
            s[register: d] = try pointerArithmetic(s, pc, insn, op: op, is64: is64, dst: dst, src: src)
            return
        }
        if op == .div || op == .mod, usesRegister, config.rejectDivisionByZero {
            precisionRequest |= 1 << UInt16(insn.src)
            let divisor = is64 ? src.value : src.value.low32
            if divisor.umin == 0 { throw error(pc, s, "possible division by zero (R\(insn.src))") }
        }
        let signed = (op == .div || op == .mod) && insn.offset == 1
        dst.value = ScalarBounds.apply(op, dst.value, src.value, is64: is64, signed: signed)
        dst.id = 0
        s[register: d] = dst
    }

    private mutating func pointerArithmetic(_ s: VerifierState, _ pc: Int, _ insn: Instruction, op: ALUOp, is64: Bool, dst: Register, src: Register) throws(VerificationError) -> Register {
        let d = insn.dst
        if !is64 {
            if op == .sub { return .unknownScalar }  // allowed for a privileged loader: a meaningless number
            throw error(pc, s, "R\(d) 32-bit pointer arithmetic prohibited")
        }
        if !dst.isScalar && !src.isScalar {
            guard op == .sub else { throw error(pc, s, "R\(d) pointer \(Self.operatorName(op)) pointer prohibited") }
            return .unknownScalar
        }
        var pointer = dst.isScalar ? src : dst
        let scalar = dst.isScalar ? dst : src
        guard op == .add || (op == .sub && !dst.isScalar) else {
            if op == .sub { throw error(pc, s, "R\(d) tried to subtract pointer from scalar") }
            if [.and, .or, .xor].contains(op) { throw error(pc, s, "R\(d) bitwise operator \(Self.operatorName(op)) on pointer prohibited") }
            throw error(pc, s, "R\(d) pointer arithmetic with \(Self.operatorName(op)) operator prohibited")
        }
        switch pointer.kind {
        case .mapPointer, .packetEnd:
            throw error(pc, s, "R\(d) pointer arithmetic on \(pointer.typeName) prohibited")
        default:
            if pointer.maybeNull { throw error(pc, s, "R\(d) pointer arithmetic on \(pointer.typeName) prohibited") }
        }
        let limit: Int64 = 1 << 29
        if let k = scalar.value.constantValue {
            let delta = Int64(bitPattern: k)
            guard delta > -limit, delta < limit else { throw error(pc, s, "math between \(pointer.typeName) pointer and \(delta) is not allowed") }
            pointer.offset += op == .add ? delta : -delta
            guard pointer.offset > -limit, pointer.offset < limit else { throw error(pc, s, "value \(delta) makes \(pointer.typeName) pointer be out of bounds") }
            return pointer
        }
        guard scalar.value.smin > -limit else {
            throw error(pc, s, "math between \(pointer.typeName) pointer and register with unbounded min value is not allowed")
        }
        pointer.value = ScalarBounds.apply(op, pointer.value, scalar.value, is64: true)
        if pointer.kind == .packet || pointer.kind == .packetMeta {
            // A new variable part: earlier bounds checks do not cover it.
            pointer.range = 0
        }
        return pointer
    }

    static func operatorName(_ op: ALUOp) -> String {
        switch op {
        case .add: "+="
        case .sub: "-="
        case .mul: "*="
        case .div: "/="
        case .or: "|="
        case .and: "&="
        case .lsh: "<<="
        case .rsh: ">>="
        case .neg: "neg"
        case .mod: "%="
        case .xor: "^="
        case .mov: "="
        case .arsh: "s>>="
        case .end: "endian"
        }
    }

    static func signExtend(_ v: ScalarBounds, fromBytes bytes: Int, is64: Bool) -> ScalarBounds {
        let bits = bytes * 8
        let result: ScalarBounds
        if let c = v.constantValue {
            let shift = UInt64(64 - bits)
            result = .constant(UInt64(bitPattern: Int64(bitPattern: c << shift) >> shift))
        } else {
            let half = Int64(1) << (bits - 1)
            if v.umax < UInt64(half) {
                result = .unsignedRange(v.umin, v.umax)  // non-negative in the narrow width: unchanged
            } else {
                result = .signedRange(-half, half - 1)
            }
        }
        return is64 ? result : result.low32
    }

    static func byteSwap(_ v: ScalarBounds, _ insn: Instruction) -> ScalarBounds {
        let bits = Int(insn.imm)
        let toLittle = insn.opClass == .alu && insn.opcode & 0x08 == 0  // `le`: a truncation on this host
        if let c = v.constantValue {
            let narrow = bits == 64 ? c : c & ((1 << UInt64(bits)) - 1)
            if toLittle { return .constant(narrow) }
            switch bits {
            case 16: return .constant(UInt64(UInt16(truncatingIfNeeded: narrow).byteSwapped))
            case 32: return .constant(UInt64(UInt32(truncatingIfNeeded: narrow).byteSwapped))
            default: return .constant(narrow.byteSwapped)
            }
        }
        if bits == 64 { return toLittle ? v : .unknown }
        let maxValue: UInt64 = bits == 16 ? 0xffff : 0xffff_ffff
        if toLittle, v.umax <= maxValue { return v }
        return .unsignedRange(0, maxValue)
    }
}

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
            try recordBase(s, pc, base)
            let size = MemSize(rawValue: insn.opcode & 0x18)!.byteCount
            let signed = insn.opcode & 0xe0 == MemMode.memsx.rawValue
            let value = try access(&s, pc, base: base, regno: Int(insn.src), offset: Int64(insn.offset), size: size, mode: .read(signed: signed))
            try writeRegister(&s, pc, Int(insn.dst), value)
            return .next(pc + 1)
        case .st, .stx:
            let base = try readable(s, pc, Int(insn.dst))
            try recordBase(s, pc, base)
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

    /// `save_aux_ptr_type`: a load or store instruction reaches the context on every path or
    /// on none, and kernel objects on every path or on none, since those accesses are rewritten
    /// per instruction (context conversion, exception-handling loads).
    private mutating func recordBase(_ s: VerifierState, _ pc: Int, _ base: Register) throws(VerificationError) {
        let kind: UInt8 =
            switch base.kind {
            case .context: 1
            case .btfPointer: 3
            default: 2
            }
        if baseKinds[pc] == 0 {
            baseKinds[pc] = kind
        } else if baseKinds[pc] != kind {
            throw error(pc, s, "same insn cannot be used with different pointers")
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
                if insn.offset != 0 {  // movsx; of a pointer, a number (what a privileged loader gets)
                    result = src.isScalar ? .scalar(Self.signExtend(src.value, fromBytes: Int(insn.offset) / 8, is64: is64)) : .unknownScalar
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
            // Of a pointer, a number (check_alu_op refuses it only to unprivileged loaders).
            guard dst.isScalar, !config.kernelRules else {
                // The kernel forgets what it knew of a negated or byte-swapped register;
                // with its rules, so do we (else we would prove more than it accepts).
                s[register: d] = .unknownScalar
                return
            }
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
        if config.kernelRules, !Self.kernelTracks(op, src.value, is64: is64) {
            // is_safe_to_compute_dst_reg_range: division, modulo and shifts by anything but a
            // constant inside the width leave the whole register unknown, even for ALU32.
            s[register: d] = .unknownScalar
            return
        }
        let signed = (op == .div || op == .mod) && insn.offset == 1
        dst.value = ScalarBounds.apply(op, dst.value, src.value, is64: is64, signed: signed)
        dst.id = 0
        s[register: d] = dst
    }

    /// Arithmetic with a pointer (`adjust_ptr_min_max_vals`): only adding to (or subtracting
    /// from) a pointer of a type that allows it, by a number whose bounds and the result's
    /// stay within ±2^29.
    private mutating func pointerArithmetic(_ s: VerifierState, _ pc: Int, _ insn: Instruction, op: ALUOp, is64: Bool, dst: Register, src: Register)
        throws(VerificationError) -> Register
    {
        let d = insn.dst
        if !dst.isScalar && !src.isScalar {
            // Any operation on two pointers but a subtraction is refused; that one gives a
            // meaningless number (for a loader allowed to see addresses).
            guard op == .sub else { throw error(pc, s, "R\(d) pointer \(Self.operatorName(op)) pointer prohibited") }
            return .unknownScalar
        }
        if !is64 {
            if op == .sub { return .unknownScalar }  // a 32-bit difference: a meaningless number
            throw error(pc, s, "R\(d) 32-bit pointer arithmetic prohibited")
        }
        var pointer = dst.isScalar ? src : dst
        let scalar = dst.isScalar ? dst : src
        let known = scalar.value.constantValue
        let name = pointer.typeName
        if pointer.maybeNull { throw error(pc, s, "R\(d) pointer arithmetic on \(name) prohibited, null-check it first") }
        switch pointer.kind {
        case .context, .mapValue, .mapKey, .stack, .packetMeta, .packet, .memory, .btfPointer: break
        case .mapPointer where known == 0 && op == .add: break
        default: throw error(pc, s, "R\(d) pointer arithmetic on \(name) prohibited")
        }
        switch op {
        case .add: break
        case .sub:
            if dst.isScalar { throw error(pc, s, "R\(d) tried to subtract pointer from scalar") }
            // JITs need not handle a frame pointer moving down by subtraction.
            if pointer.kind == .stack { throw error(pc, s, "R\(d) subtraction from stack pointer prohibited") }
        case .and, .or, .xor:
            throw error(pc, s, "R\(d) bitwise operator \(Self.operatorName(op)) on pointer prohibited")
        default:
            throw error(pc, s, "R\(d) pointer arithmetic with \(Self.operatorName(op)) operator prohibited")
        }
        // check_reg_sane_offset on the number and on the pointer, before and after.
        try saneOffset(s, pc, scalar: scalar, pointer: name)
        try saneOffset(s, pc, pointer: pointer)
        if let k = known {
            let delta = Int64(bitPattern: k)  // within ±2^29: saneOffset checked it
            pointer.offset += op == .add ? delta : -delta
            guard insideVariableOffset(pointer.offset) else {
                throw error(pc, s, "\(name) pointer offset \(pointer.offset) is not allowed")
            }
            return pointer
        }
        pointer.value = ScalarBounds.apply(op, pointer.value, scalar.value, is64: true)
        if pointer.kind == .packet || pointer.kind == .packetMeta {
            // A new variable part: earlier bounds checks do not cover it.
            pointer.range = 0
            pointer.id = freshID()
        }
        try saneOffset(s, pc, pointer: pointer)
        return pointer
    }

    /// `check_reg_sane_offset` for the number a pointer moves by.
    private func saneOffset(_ s: VerifierState, _ pc: Int, scalar: Register, pointer name: String) throws(VerificationError) {
        let v = scalar.value
        if let k = v.constantValue.map({ Int64(bitPattern: $0) }), !insideVariableOffset(k) {
            throw error(pc, s, "math between \(name) pointer and \(k) is not allowed")
        }
        if v.smin == .min { throw error(pc, s, "math between \(name) pointer and register with unbounded min value is not allowed") }
        if !insideVariableOffset(v.smin) {
            throw error(pc, s, "value \(v.smin) makes \(name) pointer be out of bounds")
        }
    }

    /// `check_reg_sane_offset` for a pointer's variable part.
    private func saneOffset(_ s: VerifierState, _ pc: Int, pointer: Register) throws(VerificationError) {
        let v = pointer.value
        if let k = v.constantValue.map({ Int64(bitPattern: $0) }), !insideVariableOffset(k) {
            throw error(pc, s, "\(pointer.typeName) pointer offset \(k) is not allowed")
        }
        if !insideVariableOffset(v.smin) {
            throw error(pc, s, "\(pointer.typeName) pointer offset \(v.smin) is not allowed")
        }
    }

    /// Whether the kernel's verifier computes the bounds of `op` (`is_safe_to_compute_dst_reg_range`).
    static func kernelTracks(_ op: ALUOp, _ src: ScalarBounds, is64: Bool) -> Bool {
        switch op {
        case .add, .sub, .and, .xor, .or, .mul: return true
        case .lsh, .rsh, .arsh:
            // A known count (in the operand's width) whose whole 64-bit register is below the
            // width: the kernel compares the 64-bit umax even for ALU32.
            let count = is64 ? src : src.low32
            return count.isConstant && src.umax < (is64 ? 64 : 32)
        default: return false
        }
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

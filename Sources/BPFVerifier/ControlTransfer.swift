import BPFCore

extension Analysis {
    mutating func jump(_ s: inout VerifierState, _ pc: Int, _ insn: Instruction) throws(VerificationError) -> Next {
        guard let op = JumpOp(rawValue: insn.opcode & 0xf0) else { throw error(pc, s, "invalid BPF_JMP opcode \(hex(insn.opcode))") }
        let is32 = insn.opClass == .jmp32
        switch op {
        case .ja:
            return .jump(pc + 1 + (Validator.branchDisplacement(insn) ?? 0))
        case .exit:
            return try exit(&s, pc)
        case .call:
            if insn.opcode & 0x08 != 0 {
                // callx: a helper whose id the register holds (the interpreter's indirect call).
                let target = try readable(s, pc, Int(insn.dst))
                precisionRequest |= 1 << UInt16(insn.dst)
                guard target.isScalar, let id = target.value.constantValue, id <= UInt64(Int32.max) else {
                    throw error(pc, s, "callx R\(insn.dst): the target must be a known helper id")
                }
                try helperCall(&s, pc, id: Int32(id))
                return .next(pc + 1)
            }
            switch CallKind(rawValue: insn.src) {
            case .helper:
                try helperCall(&s, pc, id: insn.imm)
                return .next(pc + 1)
            case .local:
                return try localCall(&s, pc, target: pc + 1 + Int(insn.imm))
            default:
                throw error(pc, s, "kernel function calls are not supported")
            }
        default:
            break
        }
        guard let condition = Condition(op) else { throw error(pc, s, "invalid BPF_JMP opcode \(hex(insn.opcode))") }
        let target = pc + 1 + Int(insn.offset)
        let d = Int(insn.dst)
        let dst = try readable(s, pc, d)
        let src: Register
        let srcRegister: Int?
        if insn.opcode & 0x08 != 0 {
            srcRegister = Int(insn.src)
            src = try readable(s, pc, Int(insn.src))
        } else {
            srcRegister = nil
            src = .scalar(.constant(is32 ? UInt64(UInt32(bitPattern: insn.imm)) : UInt64(bitPattern: Int64(insn.imm))))
        }
        // The taken side is a copy; the fall-through narrows `s` in place. The two share their
        // buffers until one writes, so a branch copies at most what one side changes.
        var taken = s
        let canTake = narrow(&taken, d, dst, srcRegister, src, condition, is32: is32)
        let canFall = narrow(&s, d, dst, srcRegister, src, condition.negated, is32: is32)
        // A number's range relied on: it decided the jump, or whether a pointer is NULL.
        if !canTake || !canFall || dst.isScalar != src.isScalar {
            if dst.isScalar { precisionRequest |= 1 << UInt16(d) }
            if src.isScalar, let r = srcRegister { precisionRequest |= 1 << UInt16(r) }
        }
        switch (canFall, canTake) {
        case (true, _):
            return .branch(taken: canTake ? taken : nil, target: target)
        case (false, true):
            s = taken
            return .jump(target)
        case (false, false):
            return .end
        }
    }

    /// Narrows `st` by `dst cond src`; false when that side cannot happen.
    private mutating func narrow(_ st: inout VerifierState, _ d: Int, _ dst: Register, _ s: Int?, _ src: Register, _ cond: Condition, is32: Bool) -> Bool {
        if dst.isScalar && src.isScalar {
            let refined = is32 ? ScalarBounds.refine32(dst.value, src.value, cond) : ScalarBounds.refine(dst.value, src.value, cond)
            guard let (a, b) = refined else { return false }
            Self.setScalar(&st, d, a)
            if let s { Self.setScalar(&st, s, b) }
            return true
        }
        // A pointer compared with zero: NULL checks.
        let zero = (src.isScalar && src.value.constantValue == 0) ? (pointer: dst, register: d) :
            (dst.isScalar && dst.value.constantValue == 0 && s != nil) ? (pointer: src, register: s!) : nil
        if let (pointer, register) = zero, !is32 {
            // Which side of `pointer cond 0` (or `0 cond pointer`) holds only for NULL.
            let c = register == d ? cond : cond.swapped
            let nullOnly: Bool? = switch c {
            case .eq, .ule: true
            case .ne, .ugt: false
            default: nil
            }
            if let nullOnly {
                if pointer.maybeNull {
                    markNullCheck(&st, pointer, isNull: nullOnly)
                    return true
                }
                return !nullOnly  // a valid pointer is never NULL
            }
            if !pointer.maybeNull, c == .ult { return false }  // nothing is below zero unsigned
        }
        if !is32 { markPacketRange(&st, dst, src, cond) }
        return true
    }

    /// After `r == 0` (or `!= 0`) on a pointer that may be NULL: every copy becomes the number 0
    /// on one side, and a valid pointer on the other.
    private func markNullCheck(_ s: inout VerifierState, _ pointer: Register, isNull: Bool) {
        let id = pointer.id
        s.updateAll(where: { $0.id == id && $0.maybeNull }) { r in
            if isNull {
                r = .scalar(.constant(0))
            } else {
                r.maybeNull = false
                // A value holding a spin lock keeps its id: unlock must name the same value.
                if r.referenceID == 0, !(r.kind == .mapValue && config.maps[Int(r.map)].spinLockOffset != nil) { r.id = 0 }
            }
        }
        if isNull, pointer.referenceID != 0 {
            s.references.removeAll { $0.id == pointer.referenceID }
        }
    }

    /// `pkt + n` compared with `pkt_end`: on the side where it is not past the end, the first
    /// `n` bytes (minus one for a strict comparison) of every copy of that packet pointer are
    /// in the packet.
    private func markPacketRange(_ s: inout VerifierState, _ dst: Register, _ src: Register, _ cond: Condition) {
        let packet: Register, rightOpen: Bool
        switch (dst.kind, src.kind, cond) {
        case (.packet, .packetEnd, .ule): (packet, rightOpen) = (dst, false)   // pkt <= end
        case (.packet, .packetEnd, .ult): (packet, rightOpen) = (dst, true)    // pkt < end
        case (.packetEnd, .packet, .uge): (packet, rightOpen) = (src, false)   // end >= pkt
        case (.packetEnd, .packet, .ugt): (packet, rightOpen) = (src, true)    // end > pkt
        default: return
        }
        guard packet.offset > 0 || (packet.offset == 0 && !rightOpen) else { return }
        let range = rightOpen ? packet.offset - 1 : packet.offset
        let id = packet.id, value = packet.value
        s.updateAll(where: { $0.kind == .packet && $0.id == id && $0.value == value }) { r in
            r.range = max(r.range, range)
        }
    }

    private static func setScalar(_ s: inout VerifierState, _ r: Int, _ value: ScalarBounds) {
        let id = s[register: r].id
        s[register: r].value = value
        if id != 0 {
            s.updateAll(where: { $0.isScalar && $0.id == id }) { $0.value = value }
        }
    }

    // MARK: - Calls and exits

    private mutating func localCall(_ s: inout VerifierState, _ pc: Int, target: Int) throws(VerificationError) -> Next {
        if s.lock != nil { throw error(pc, s, "function calls are not allowed while holding a lock") }
        guard s.frames.count < BPFLimits.maxCallFrames else {
            throw error(pc, s, "the call stack of \(s.frames.count + 1) frames is too deep !")
        }
        var callee = Frame()
        callee.callSite = pc
        callee.subprogram = flow.subprogram(of: target)
        var registers = [Register](repeating: .uninitialized, count: 11)
        for r in 1...5 { registers[r] = s[register: r] }
        registers[10] = .pointer(.stack)
        registers[10].frame = s.depth
        s.push(callee, registers: registers)
        return .jump(target)
    }

    private mutating func exit(_ s: inout VerifierState, _ pc: Int) throws(VerificationError) -> Next {
        let r0 = try readable(s, pc, 0)
        if s.frames.count > 1 {
            if r0.kind == .stack, r0.frame == s.frames.count - 1 { throw error(pc, s, "cannot return stack pointer to the caller") }
            let callSite = s.current.callSite
            s.pop()
            s[register: 0] = r0
            for r in 1...5 { s[register: r] = .uninitialized }
            return .next(callSite + 1)
        }
        if s.lock != nil { throw error(pc, s, "bpf_spin_unlock is missing") }
        if let leak = s.references.first {
            throw error(pc, s, "Unreleased reference id=\(leak.id) alloc_insn=\(leak.instruction)")
        }
        return .end
    }

    mutating func helperCall(_ s: inout VerifierState, _ pc: Int, id: Int32) throws(VerificationError) {
        var name: String { HelperNames.name(of: id).map { "bpf_\($0)" } ?? "unknown" }  // for messages only
        guard let arguments = HelperPrototypes.arguments(of: id) else { throw error(pc, s, "invalid func \(name)#\(id)") }
        guard config.anyHelper || HelperRules.isAllowed(id, in: config.programType) else {
            throw error(pc, s, "program of this type cannot use helper \(name)#\(id)")
        }
        if s.lock != nil, id != 94 { throw error(pc, s, "function calls are not allowed while holding a lock") }
        var mapIndex: Int?
        for (i, kind) in arguments.enumerated() {
            let r = i + 1
            let arg = try readable(s, pc, r)
            switch kind {
            case .anything:
                if id == 132 || id == 133, r == 1 { try release(&s, pc, arg, id: id) }
            case .map:
                guard arg.kind == .mapPointer else { throw error(pc, s, "R\(r) type=\(arg.typeName) expected=map_ptr") }
                let shape = config.maps[Int(arg.map)]
                guard config.anyHelper || HelperRules.accepts(id, mapType: shape.type) else {
                    throw error(pc, s, "cannot pass map_type \(shape.type) into func \(name)#\(id)")
                }
                mapIndex = Int(arg.map)
            case .context:
                guard arg.kind == .context, arg.offset == 0, arg.hasFixedOffset else { throw error(pc, s, "R\(r) type=\(arg.typeName) expected=ctx") }
            case .spinLock:
                try spinLock(&s, pc, arg, lock: id == 93)
            case .mapKey, .mapValue, .writableMapValue:
                guard let mapIndex else { throw error(pc, s, "R\(r) map argument missing before \(name)") }
                let shape = config.maps[mapIndex]
                let size = kind == .mapKey ? shape.keySize : shape.valueSize
                try helperMemory(&s, pc, arg, regno: r, size: .constant(UInt64(size)), sizeRegister: nil, write: kind == .writableMapValue, zeroAllowed: false)
            case .readable(let sizeArgument), .writable(let sizeArgument):
                let sizeRegister = try readable(s, pc, sizeArgument)
                precisionRequest |= 1 << UInt16(sizeArgument)
                guard sizeRegister.isScalar else { throw error(pc, s, "R\(sizeArgument) type=\(sizeRegister.typeName) expected=scalar") }
                var write = false
                if case .writable = kind { write = true }
                try helperMemory(&s, pc, arg, regno: r, size: sizeRegister.value, sizeRegister: sizeArgument, write: write, zeroAllowed: HelperRules.allowsZeroSize(id))
            }
        }
        if id == 12, !s.references.isEmpty { throw error(pc, s, "tail_call would lead to reference leak") }
        let ringbufSize = id == 131 ? s[register: 2] : nil
        if id == 131 { precisionRequest |= 1 << 2 }
        for r in 1...5 { s[register: r] = .uninitialized }
        switch HelperRules.result(of: id) {
        case .scalar:
            s[register: 0] = .unknownScalar
        case .none:
            s[register: 0] = .uninitialized
        case .mapValueOrNull:
            var r = Register.pointer(.mapValue)
            r.map = Int32(mapIndex!)
            r.maybeNull = true
            r.id = freshID()
            s[register: 0] = r
        case .recordOrNull:
            guard let size = ringbufSize?.value.constantValue, ringbufSize?.isScalar == true else {
                throw error(pc, s, "R2 is not a known constant")
            }
            var r = Register.pointer(.memory)
            r.range = Int64(size)
            r.maybeNull = true
            r.id = freshID()
            r.referenceID = r.id
            s.references.append(.init(id: r.id, instruction: pc))
            s[register: 0] = r
        }
    }

    /// `bpf_spin_lock(&value->lock)` or `bpf_spin_unlock`: the argument must be the lock field
    /// of a map value, and unlock releases the one held.
    private func spinLock(_ s: inout VerifierState, _ pc: Int, _ arg: Register, lock: Bool) throws(VerificationError) {
        guard arg.kind == .mapValue, !arg.maybeNull else { throw error(pc, s, "R1 type=\(arg.typeName) expected=map_value") }
        guard arg.hasFixedOffset else { throw error(pc, s, "R1 doesn't have constant offset. bpf_spin_lock has to be at the constant offset") }
        guard let at = config.maps[Int(arg.map)].spinLockOffset else { throw error(pc, s, "map has no valid bpf_spin_lock") }
        guard arg.offset == Int64(at) else { throw error(pc, s, "off \(arg.offset) doesn't point to 'struct bpf_spin_lock' that is at \(at)") }
        if lock {
            s.lock = .init(map: arg.map, id: arg.id, instruction: pc)  // none is held: helperCall refused calls under a lock
        } else {
            guard let held = s.lock else { throw error(pc, s, "bpf_spin_unlock without taking a lock") }
            guard held.map == arg.map, held.id == arg.id else { throw error(pc, s, "bpf_spin_unlock of different lock") }
            s.lock = nil
        }
    }

    /// A ring buffer record handed back: it must be one the program holds, and every copy of
    /// the pointer becomes unusable.
    private func release(_ s: inout VerifierState, _ pc: Int, _ record: Register, id: Int32) throws(VerificationError) {
        guard record.kind == .memory, !record.maybeNull, record.referenceID != 0 else {
            throw error(pc, s, "R1 type=\(record.typeName) expected=ringbuf_mem")
        }
        guard record.offset == 0, record.hasFixedOffset else { throw error(pc, s, "R1 must have zero offset when passed to release func") }
        let ref = record.referenceID
        guard s.references.contains(where: { $0.id == ref }) else { throw error(pc, s, "arg 1 is an unacquired reference") }
        s.references.removeAll { $0.id == ref }
        s.updateAll(where: { $0.referenceID == ref }) { $0 = .unknownScalar }
    }

    /// A memory argument: `size` bytes (at most its upper bound) at `arg` must be readable, or
    /// writable, and are initialized afterwards when written.
    private mutating func helperMemory(_ s: inout VerifierState, _ pc: Int, _ arg: Register, regno: Int, size: ScalarBounds, sizeRegister: Int?, write: Bool, zeroAllowed: Bool) throws(VerificationError) {
        let sizeName = sizeRegister.map { "R\($0)" } ?? "size"
        guard size.smin >= 0 else { throw error(pc, s, "\(sizeName) min value is negative, either use unsigned or 'var &= const'") }
        guard size.umax < 1 << 29 else { throw error(pc, s, "\(sizeName) unbounded memory access, use 'var &= const' or 'if (var < const)'") }
        if size.umax == 0 {
            guard zeroAllowed else { throw error(pc, s, "invalid zero-sized read") }
            return
        }
        switch arg.kind {
        case .stack, .packet, .mapValue, .memory:
            _ = try access(&s, pc, base: arg, regno: regno, offset: 0, size: Int(size.umax), mode: .helper(write: write))
        default:
            throw error(pc, s, "R\(regno) type=\(arg.typeName) expected=fp, pkt, map_value, mem")
        }
    }
}

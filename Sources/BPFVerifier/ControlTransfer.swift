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
                // callx: a helper whose id the register holds (only with `allowIndirectCalls`:
                // the kernel has no such instruction, and `Analysis.init` refuses it otherwise).
                let target = try readable(s, pc, Int(insn.dst))
                precisionRequest |= 1 << UInt16(insn.dst)
                guard target.isScalar, let id = target.value.constantValue, id <= UInt64(Int32.max) else {
                    throw error(pc, s, "callx R\(insn.dst): the target must be a known helper id")
                }
                return try helperCall(&s, pc, id: Int32(id))
            }
            switch CallKind(rawValue: insn.src) {
            case .helper:
                return try helperCall(&s, pc, id: insn.imm)
            case .local:
                return try localCall(&s, pc, target: pc + 1 + Int(insn.imm))
            case .kfunc:
                return try kernelFunctionCall(&s, pc, insn)
            default:
                throw error(pc, s, "invalid call kind \(insn.src)")
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
        // A pointer against a constant: only a pointer that cannot be NULL compared for
        // (in)equality with 0 decides the branch (is_branch_taken).
        if !dst.isScalar || !src.isScalar {
            if let taken = Self.pointerBranchTaken(dst, src, condition, is32: is32) {
                return taken ? .jump(target) : .next(pc + 1)
            }
        }
        if dst.isScalar, src.isScalar, config.kernelRules,
            let taken = ScalarBounds.kernelBranchTaken(dst.value, src.value, condition, is32: is32)
        {
            // Decided as the kernel decides it; the state goes on unnarrowed, as there.
            precisionRequest |= 1 << UInt16(d)
            if let r = srcRegister { precisionRequest |= 1 << UInt16(r) }
            return taken ? .jump(target) : .next(pc + 1)
        }
        // The taken side is a copy; the fall-through narrows `s` in place. The two share their
        // buffers until one writes, so a branch copies at most what one side changes.
        // A register compared with itself narrows nothing in the kernel (and is decided only
        // as any other comparison is).
        if config.kernelRules, srcRegister == d, dst.isScalar {
            return .branch(taken: s, target: target)
        }
        let before = s
        var taken = s
        var canTake = narrow(&taken, d, dst, srcRegister, src, condition, is32: is32)
        var canFall = narrow(&s, d, dst, srcRegister, src, condition.negated, is32: is32)
        if config.kernelRules, dst.isScalar, src.isScalar, !(canTake && canFall) {
            // The kernel could not decide the branch, so it checks both sides; where narrowing
            // finds a side impossible, check it with what was known before the branch (we
            // must not prove less than it checks).
            if !canTake { taken = before; canTake = true }
            if !canFall { s = before; canFall = true }
        }
        // A number's range relied on: it decided the jump.
        if !canTake || !canFall {
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

    /// Whether a comparison involving a pointer is decided: the kernel's `is_branch_taken`
    /// for pointers — a 64-bit (in)equality of a pointer that cannot be NULL (`reg_not_null`)
    /// with the constant 0. Anything else about a pointer is not known.
    private static func pointerBranchTaken(_ dst: Register, _ src: Register, _ cond: Condition, is32: Bool) -> Bool? {
        if is32 { return nil }
        let (pointer, constant) = src.isScalar ? (dst, src) : (src, dst)
        guard constant.isScalar, constant.value.constantValue == 0, isNotNull(pointer) else { return nil }
        switch cond {
        case .eq: return false
        case .ne: return true
        default: return nil
        }
    }

    /// Narrows `st` by `dst cond src`; false when that side cannot happen.
    private mutating func narrow(_ st: inout VerifierState, _ d: Int, _ dst: Register, _ s: Int?, _ src: Register, _ cond: Condition, is32: Bool) -> Bool {
        if dst.isScalar && src.isScalar {
            let refined =
                is32
                ? ScalarBounds.refine32(dst.value, src.value, cond, asKernel: config.kernelRules)
                : ScalarBounds.refine(dst.value, src.value, cond, asKernel: config.kernelRules)
            guard let (a, b) = refined else { return false }
            Self.setScalar(&st, d, a)
            if let s { Self.setScalar(&st, s, b) }
            return true
        }
        if is32 { return true }
        // A NULL check: `if rX == 0` or `if rX != 0` with the immediate 0, as the kernel
        // recognizes it (check_cond_jmp_op); `>`, `<=` or a register holding 0 check nothing.
        if s == nil, src.value.constantValue == 0, dst.maybeNull, cond == .eq || cond == .ne {
            markNullCheck(&st, dst, isNull: cond == .eq)
            return true
        }
        // Two pointers equal, one of them not NULL: so is the other (not for kernel objects:
        // check_cond_jmp_op leaves PTR_TO_BTF_ID out).
        if let s, !dst.isScalar, !src.isScalar, cond == .eq, dst.kind != .btfPointer, src.kind != .btfPointer {
            // mark_ptr_not_null_reg: that register alone, not its copies.
            if src.maybeNull, Self.isNotNull(dst) { st[register: s].maybeNull = false }
            if dst.maybeNull, Self.isNotNull(src) { st[register: d].maybeNull = false }
        }
        if let s {
            markPacketRange(&st, dst, src, cond)
            markPacketEnd(&st, d, dst, s, src, cond)
        }
        return true
    }

    /// `reg_not_null`: a pointer of a type that is never NULL, whose offset cannot wrap it
    /// to 0.
    private static func isNotNull(_ r: Register) -> Bool {
        // Kernel pointers other than trusted ones may be NULL.
        !r.maybeNull && ([.mapValue, .mapKey, .memory, .mapPointer].contains(r.kind) || r.kind == .btfPointer && r.trust == .trusted)
            && insideVariableOffset(r.value.smin) && insideVariableOffset(r.value.smax)
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
                // A map of maps' value is one of its maps (mark_ptr_or_null_reg: CONST_PTR_TO_MAP
                // with the inner map's shape).
                if r.kind == .mapValue, let inner = innerMaps[Int(r.map)] {
                    r = .pointer(.mapPointer)
                    r.map = inner
                    return
                }
                // A value holding a spin lock keeps its id: unlock must name the same value.
                if r.referenceID == 0, !(r.kind == .mapValue && config.maps[Int(r.map)].spinLockOffset != nil) { r.id = 0 }
            }
        }
        if isNull, pointer.referenceID != 0 {
            s.references.removeAll { $0.id == pointer.referenceID }
        }
    }

    /// `pkt + n` compared with `pkt_end` (`find_good_pkt_pointers`): on the side where it is
    /// not past the end, the first `n` bytes (one more for a strict comparison) of every copy
    /// of that packet pointer are in the packet — provided `n` and the pointer's variable
    /// part stay within `MAX_PACKET_OFF` (0xffff), where they cannot wrap around.
    private func markPacketRange(_ s: inout VerifierState, _ dst: Register, _ src: Register, _ cond: Condition) {
        let packet: Register, rightOpen: Bool
        switch (dst.kind, src.kind, cond) {
        case (.packet, .packetEnd, .ule): (packet, rightOpen) = (dst, false)  // pkt <= end
        case (.packet, .packetEnd, .ult): (packet, rightOpen) = (dst, true)  // pkt < end
        case (.packetEnd, .packet, .uge): (packet, rightOpen) = (src, false)  // end >= pkt
        case (.packetEnd, .packet, .ugt): (packet, rightOpen) = (src, true)  // end > pkt
        default: return
        }
        if packet.offset < 0 || (packet.offset == 0 && rightOpen) { return }
        let maxPacketOffset: UInt64 = 0xffff
        if packet.value.umax > maxPacketOffset || packet.value.umax + UInt64(packet.offset) > maxPacketOffset { return }
        let range = rightOpen ? packet.offset + 1 : packet.offset
        let id = packet.id, value = packet.value
        s.updateAll(where: { $0.kind == .packet && $0.id == id && $0.value == value }) { r in
            r.range = max(r.range, range)
        }
    }

    /// `mark_pkt_end`: on the side where a packet pointer is at or past the packet's end, no
    /// byte through that register is in the packet, whatever it was proven before.
    private func markPacketEnd(_ st: inout VerifierState, _ d: Int, _ dst: Register, _ s: Int, _ src: Register, _ cond: Condition) {
        let beyond: Int64 = -2, at: Int64 = -1
        switch (dst.kind, src.kind, cond) {
        case (.packet, .packetEnd, .ugt): st[register: d].range = beyond  // pkt > end
        case (.packet, .packetEnd, .uge): st[register: d].range = at  // pkt >= end
        case (.packetEnd, .packet, .ult): st[register: s].range = beyond  // end < pkt
        case (.packetEnd, .packet, .ule): st[register: s].range = at  // end <= pkt
        default: break
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

    /// A helper that calls a subprogram back (`bpf_loop(n, callback, ctx, flags)`), as the
    /// kernel verifies it: the caller goes on after the call (no iteration, or the last), and a
    /// path of its own enters the callback from the call, r1 the iteration index and r2 the
    /// context pointer; the callback's exit returns to the call, which starts the next
    /// iteration and goes on after it, until the state at the call repeats (see
    /// ``ControlFlow/callbackCallSites``).
    private func callBack(_ s: VerifierState, _ pc: Int, helper: HelperID, name: String, target: Int) throws(VerificationError) -> VerifierState {
        guard helper == .loop || helper == .forEachMapElem else { throw error(pc, s, "\(name): its callback is not supported by SwiftBPF's verifier") }
        guard s.frames.count < BPFLimits.maxCallFrames else {
            throw error(pc, s, "the call stack of \(s.frames.count + 1) frames is too deep !")
        }
        let context = s[register: 3]
        var entry = s
        var frame = Frame()
        frame.callSite = pc
        frame.subprogram = flow.subprogram(of: target)
        frame.isCallback = true
        frame.referencesAtEntry = s.references.count
        var registers = [Register](repeating: .uninitialized, count: 11)
        if helper == .forEachMapElem {
            // callback(map, key, value, ctx), for every element of an array or hash map.
            let map = s[register: 1].map
            let iterable: [MapType] = [.array, .percpuArray, .hash, .percpuHash, .lruHash, .lruPercpuHash]
            guard iterable.contains(config.maps[Int(map)].type) else { throw error(pc, s, "callback function not supported for map") }
            registers[1] = s[register: 1]
            registers[2] = .pointer(.mapKey)
            registers[2].map = map
            registers[3] = .pointer(.mapValue)
            registers[3].map = map
            registers[4] = context
        } else {
            registers[1] = .unknownScalar
            registers[2] = context
        }
        registers[10] = .pointer(.stack)
        registers[10].frame = s.depth
        entry.push(frame, registers: registers)
        return entry
    }

    /// `widen_imprecise_scalars`: numbers that changed since the callback's previous call
    /// and that nothing has needed exactly become unknown, so that iterations which only count
    /// or sum converge (`ctx->i++` in a bpf_loop callback).
    private static func widenImpreciseScalars(_ s: inout VerifierState, since previous: Checkpoint) {
        let old = previous.state
        guard old.depth == s.depth else { return }
        let precise = previous.allPrecise ? PrecisionSet.all : previous.precise
        for f in 0..<s.depth {
            for r in 0..<11 {
                let o = old[register: r, frame: f], c = s[register: r, frame: f]
                if o.isScalar, c.isScalar, o.value != c.value, !precise.register(r, frame: f) { s[register: r, frame: f] = .unknownScalar }
            }
            for slot in s.frames[f].spills.indices {
                let o = old.frames[f].spills[slot], c = s.frames[f].spills[slot]
                if o.isScalar, c.isScalar, o.value != c.value, !precise.slot(slot, frame: f) { s.frames[f].spills[slot] = .unknownScalar }
            }
        }
    }

    private mutating func exit(_ s: inout VerifierState, _ pc: Int) throws(VerificationError) -> Next {
        if s.current.isCallback {
            // The callback's return: a number in [0, 1] (continue or stop), nothing acquired kept.
            let r0 = try readable(s, pc, 0)
            precisionRequest |= 1
            guard r0.isScalar, r0.value.smin >= 0, r0.value.smax <= 1 else {
                var has = r0.isScalar ? "" : " type=\(r0.typeName)"
                if r0.isScalar, r0.value.smin > Int64.min { has += " smin=\(r0.value.smin)" }
                if r0.isScalar, r0.value.smax < Int64.max { has += " smax=\(r0.value.smax)" }
                if has.isEmpty { has = " unknown scalar value" }
                throw error(pc, s, "At callback return the register R0 has\(has) should have been in [0, 1]")
            }
            if s.references.count > s.current.referencesAtEntry, let leak = s.references.last {
                throw error(pc, s, "Unreleased reference id=\(leak.id) alloc_insn=\(leak.instruction)")
            }
            // Back to the call, with the caller's registers as they were: the next iteration.
            let callSite = s.current.callSite
            s.pop()
            if let previous = inProgress[callSite].last { Self.widenImpreciseScalars(&s, since: previous) }
            return .jump(callSite)
        }
        if s.frames.count > 1 {
            // prepare_func_exit: r0 goes back as it is, written or not (the caller may not read
            // it: a function whose result is unused need not set it); no stack pointer at all,
            // though one into a caller's frame would still be valid (the kernel errs on the
            // side of caution, and so do we).
            let r0 = s[register: 0]
            if r0.kind == .stack { throw error(pc, s, "cannot return stack pointer to the caller") }
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
        let r0 = try readable(s, pc, 0)
        if let range = config.returnRange {
            // check_return_code: r0 a number inside the range on every path (so it is precise).
            precisionRequest |= 1
            guard r0.isScalar else { throw error(pc, s, "At program exit the register R0 is not a known value (\(r0.typeName))") }
            // retval_range_within: an LSM hook returns an int, judged by the low 32 bits.
            let within =
                config.returnIs32Bit
                ? Int64(r0.value.s32min) >= range.lowerBound && Int64(r0.value.s32max) <= range.upperBound
                : r0.value.smin >= range.lowerBound && r0.value.smax <= range.upperBound
            guard within else {
                // verbose_invalid_scalar's words.
                var has = ""
                if r0.value.smin > Int64.min { has += " smin=\(r0.value.smin)" }
                if r0.value.smax < Int64.max { has += " smax=\(r0.value.smax)" }
                if has.isEmpty { has = " unknown scalar value" }
                throw error(pc, s, "At program exit the register R0 has\(has) should have been in [\(range.lowerBound), \(range.upperBound)]")
            }
        }
        return .end
    }

    /// A helper call: its arguments checked, its result in r0; `.next`, or for a helper that
    /// calls back, `.branch` with the callback's entry as the other path.
    mutating func helperCall(_ s: inout VerifierState, _ pc: Int, id: Int32) throws(VerificationError) -> Next {
        let helper = HelperID(rawValue: id)
        var name: String { helper.name.map { "bpf_\($0)" } ?? "unknown" }  // for messages only
        guard let signature = HelperSignature.signature(of: helper, in: config.programType) else { throw error(pc, s, "invalid func \(name)#\(id)") }
        if !config.anyHelper {
            switch HelperSignature.isAvailable(helper, to: config.programType, attachType: config.attachType) {
            case false?: throw error(pc, s, "program of this type cannot use helper \(name)#\(id)")
            case nil: throw error(pc, s, "\(name)#\(id): which helpers a \(config.programType) program may call is not known to SwiftBPF")
            case true?: break
            }
            if signature.mightSleep, !config.sleepable { throw error(pc, s, "helper call might sleep in a non-sleepable prog") }
            if signature.gplOnly, !config.gplCompatible { throw error(pc, s, "cannot call GPL-restricted function from non-GPL compatible program") }
        }
        guard let arguments = HelperPrototypes.arguments(of: id, in: config.programType) else {
            let (r, type) = HelperPrototypes.unsupportedArgument(of: id, in: config.programType)!
            throw error(pc, s, "\(name)#\(id): argument R\(r) of type \(type) is not supported by SwiftBPF's verifier")
        }
        guard let result = HelperRules.result(of: signature, id: helper) else {
            throw error(pc, s, "\(name)#\(id): its return type is not supported by SwiftBPF's verifier")
        }
        if s.lock != nil, id != HelperID.spinUnlock.rawValue { throw error(pc, s, "function calls are not allowed while holding a lock") }
        var mapIndex: Int?
        var allocationSize: UInt64?
        var released: Register?
        var callback: Int?
        for (i, kind) in arguments.enumerated() {
            let r = i + 1
            let arg = try readable(s, pc, r)
            if case .anything = kind { continue }  // a privileged program may pass anything, pointers too
            if arg.kind == .packet || arg.kind == .packetMeta, !Self.helpersReachPacket(config.programType, signature) {
                throw error(pc, s, "helper access to the packet is not allowed")
            }
            try checkArgumentType(s, pc, arg, regno: r, kind)
            switch kind {
            case .anything, .readable, .writable, .readableOrNull:
                break  // memory arguments are checked with their size
            case .map:
                let shape = config.maps[Int(arg.map)]
                guard config.anyHelper || HelperRules.accepts(id, mapType: shape.type) else {
                    throw error(pc, s, "cannot pass map_type \(shape.type.rawValue) into func \(name)#\(id)")
                }
                if helper == .mapLookupElem, shape.holdsMaps, innerMaps[Int(arg.map)] == nil {
                    throw error(pc, s, "\(name)#\(id): the maps this map holds have no known shape (no __array(values, ...) in its definition)")
                }
                if helper == .mapLookupElem, HelperRules.lookupGivesObject.contains(shape.type) {
                    throw error(pc, s, "\(name)#\(id): lookups in a \(shape.type) map give a kernel object, not supported by SwiftBPF's verifier")
                }
                mapIndex = Int(arg.map)
            case .context, .kernelObject, .stackPointer, .number:
                break  // checkArgumentType checked it
            case .callback:
                callback = Int(arg.offset)
            case .spinLock:
                try spinLock(&s, pc, arg, lock: id == HelperID.spinLock.rawValue)
            case .mapKey, .mapValue, .writableMapValue:
                guard let mapIndex else { throw error(pc, s, "invalid map_ptr to access map->key") }
                let shape = config.maps[mapIndex]
                let size = kind == .mapKey ? shape.keySize : shape.valueSize
                try helperMemory(&s, pc, arg, regno: r, size: UInt64(size), write: kind == .writableMapValue, zeroAllowed: false)
            case .size(let zeroAllowed):
                try memorySize(&s, pc, size: arg, regno: r, memory: arguments[i - 1], zeroAllowed: zeroAllowed)
            case .allocationSize:
                guard let size = arg.value.constantValue else { throw error(pc, s, "R\(r) is not a known constant'") }
                precisionRequest |= 1 << UInt16(r)
                allocationSize = size
            case let .fixed(bytes, write, aligned):
                if aligned, !arg.hasFixedOffset || (arg.offset % Int64(bytes) != 0) {
                    throw error(pc, s, "misaligned access off \(arg.offset) size \(bytes)")
                }
                try helperMemory(&s, pc, arg, regno: r, size: UInt64(bytes), write: write, zeroAllowed: false)
            case .record:
                guard arg.referenceID != 0 else { throw error(pc, s, "R\(r) must be referenced when passed to release function") }
                guard arg.offset == 0 else { throw error(pc, s, "R\(r) must have zero offset when passed to release func or trusted arg to kfunc") }
                guard arg.hasFixedOffset else { throw error(pc, s, "variable ringbuf_mem access var_off=\(arg.value.tnum) disallowed") }
                released = arg
            }
        }
        if let mapIndex, config.maps[mapIndex].isReadOnlyToPrograms, [HelperID.mapUpdateElem, .mapDeleteElem, .mapPushElem, .mapPopElem].contains(helper) {
            // A map read-only to programs (BPF_F_RDONLY_PROG: .rodata) is not updated,
            // deleted from, pushed to or popped (record_func_map).
            throw error(pc, s, "write into map forbidden")
        }
        if helper == .getLocalStorage {
            guard s[register: 2].isScalar, s[register: 2].value.constantValue == 0 else {
                throw error(pc, s, "get_local_storage() doesn't support non-zero flags")
            }
            precisionRequest |= 1 << 2
        }
        if let record = released { try release(&s, pc, record) }
        let callbackEntry = try callback.map { (target) throws(VerificationError) in
            try callBack(s, pc, helper: helper, name: "\(name)#\(id)", target: target)
        }
        if id == HelperID.tailCall.rawValue, !s.references.isEmpty { throw error(pc, s, "tail_call would lead to reference leak") }
        for r in 1...5 { s[register: r] = .uninitialized }
        if HelperRules.changesPacketData(id) {
            // The packet moved or changed size: every pointer into it, in every frame,
            // registers and spills alike, is now just a number (clear_all_pkt_pointers).
            s.updateAll(where: { [.packet, .packetEnd, .packetMeta].contains($0.kind) }) { $0 = .unknownScalar }
        } else if helper == .tailCall {
            // After a tail call that did not happen, the kernel keeps packet pointers in some
            // cases and drops them in others (a subprogram's tail call returns to its caller
            // running another program): they become unusable, neither pointer nor number, so
            // that whichever the kernel decides, nothing is accepted here that it refuses.
            s.updateAll(where: { [.packet, .packetEnd, .packetMeta].contains($0.kind) }) { $0 = .uninitialized }
        }
        switch result {
        case .scalar:
            s[register: 0] = .unknownScalar
        case .none:
            s[register: 0] = .uninitialized
        case .mapValue(let nullable):
            guard let mapIndex else { throw error(pc, s, "\(name)#\(id): kernel returns map value pointer without a map argument") }
            var r = Register.pointer(.mapValue)
            r.map = Int32(mapIndex)
            r.maybeNull = nullable
            if nullable { r.id = freshID() }
            s[register: 0] = r
        case .recordOrNull:
            // The kernel keeps the record's size as a u32 (`mem_size`); a larger request can
            // never be granted at run time, where the whole 64-bit size is compared.
            var r = Register.pointer(.memory)
            r.range = Int64(UInt32(truncatingIfNeeded: allocationSize ?? 0))
            r.maybeNull = true
            r.id = freshID()
            r.referenceID = r.id
            s.references.append(.init(id: r.id, instruction: pc))
            s[register: 0] = r
        case .trustedObject:
            s[register: 0] = .kernelObject(type: config.kernelTypes?.structID(named: "task_struct") ?? 0)
        }
        if let callbackEntry, let callback { return .branch(taken: callbackEntry, target: callback) }
        return .next(pc + 1)
    }

    /// `may_access_direct_pkt_data` with a helper: the packet-carrying program types let
    /// helpers declared `pkt_access` have packet pointers; sockopt programs let any helper.
    private static func helpersReachPacket(_ type: ProgramType, _ signature: HelperSignature) -> Bool {
        switch type {
        case .cgroupSockopt: true
        case .lwtIn, .lwtOut, .lwtSeg6Local, .skReuseport, .flowDissector, .cgroupSKB, .schedCLS, .schedACT, .xdp, .lwtXmit, .skSKB, .skMsg:
            signature.packetAccess
        default: false
        }
    }

    /// `check_reg_type` and `check_func_arg_reg_off`: the register's type is one the argument
    /// takes, and a pointer that must be exact (the context, a map) is.
    private mutating func checkArgumentType(_ s: VerifierState, _ pc: Int, _ arg: Register, regno r: Int, _ kind: HelperArgument) throws(VerificationError) {
        let expected: [Register.Kind]
        let names: String
        var nullable = false
        switch kind {
        case .anything: return
        case .map: (expected, names) = ([.mapPointer], "map_ptr")
        case .context: (expected, names) = ([.context], "ctx")
        case .spinLock: (expected, names) = ([.mapValue], "map_value, ptr_")
        case .record: (expected, names) = ([.memory], "ringbuf_mem")
        case .fixed: (expected, names) = ([.stack, .packet, .packetMeta, .mapKey, .mapValue, .memory], "fp, pkt, pkt_meta, map_key, map_value, mem")
        case .callback: (expected, names) = ([.function], "func")
        case .stackPointer(let maybe):
            nullable = maybe
            (expected, names) = ([.stack], "fp")
        case let .kernelObject(structName, maybe):
            nullable = maybe
            (expected, names) =
                structName == "sock_common"
                ? ([.btfPointer], "sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_") : ([.btfPointer], "ptr_, trusted_ptr_, rcu_ptr_")
        case .size, .allocationSize, .number: (expected, names) = ([.scalar], "scalar")
        case .readableOrNull:
            nullable = true
            fallthrough
        case .mapKey, .mapValue, .writableMapValue, .readable, .writable:
            (expected, names) = (
                [.stack, .packet, .packetMeta, .mapKey, .mapValue, .memory], "fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_"
            )
        }
        // A NULL where the argument may be NULL is not type-checked (check_func_arg); the
        // verdict rests on that register being 0, so it is precise.
        if nullable, arg.isScalar, arg.value.constantValue == 0 {
            precisionRequest |= 1 << UInt16(r)
            return
        }
        guard expected.contains(arg.kind), !arg.maybeNull || nullable else {
            throw error(pc, s, "R\(r) type=\(arg.typeName) expected=\(names)")
        }
        switch arg.kind {
        case .context:
            guard arg.offset == 0 else { throw error(pc, s, "dereference of modified ctx ptr R\(r) off=\(arg.offset) disallowed") }
            guard arg.hasFixedOffset else { throw error(pc, s, "variable ctx access var_off=\(arg.value.tnum) disallowed") }
        case .mapPointer:
            guard arg.offset == 0, arg.hasFixedOffset else { throw error(pc, s, "R\(r) pointer arithmetic on map_ptr prohibited") }
        case .btfPointer:
            // check_reg_type for ARG_PTR_TO_BTF_ID(_SOCK_COMMON): trusted, at the object's
            // start, of the struct the helper names or one that begins with it.
            guard case let .kernelObject(structName, _) = kind else { break }
            // btf_ptr_types: trusted, RCU and plain pointers (no RCU ones for sockets).
            let accepted: [KernelPointerTrust] = structName == "sock_common" ? [.trusted, .plain] : [.trusted, .rcu, .plain]
            guard accepted.contains(arg.trust), arg.btfType != Register.untypedKernelMemory else {
                throw error(pc, s, "R\(r) type=\(arg.typeName) expected=\(names)")
            }
            guard arg.offset == 0, arg.hasFixedOffset else { throw error(pc, s, "R\(r) must have zero offset when passed to a helper taking a kernel object") }
            guard let types = config.kernelTypes, types.begins(arg.btfType, with: structName) else {
                let name = config.kernelTypes?.name(ofType: arg.btfType) ?? "?"
                throw error(pc, s, "R\(r) is of type \(name) but \(structName) is expected")
            }
        default: break
        }
    }

    /// `check_mem_size_reg`: the size argument of the memory argument before it is a number
    /// never negative, zero only where the helper takes zero, below 2^29; then the memory is
    /// checked for the size's largest value.
    private mutating func memorySize(_ s: inout VerifierState, _ pc: Int, size: Register, regno r: Int, memory: HelperArgument, zeroAllowed: Bool)
        throws(VerificationError)
    {
        precisionRequest |= 1 << UInt16(r)
        let v = size.value
        guard v.smin >= 0 else { throw error(pc, s, "R\(r) min value is negative, either use unsigned or 'var &= const'") }
        if v.umin == 0, !zeroAllowed { throw error(pc, s, "R\(r) invalid zero-sized read: u64=[\(v.umin),\(v.umax)]") }
        guard v.umax < UInt64(maxVariableOffset) else { throw error(pc, s, "R\(r) unbounded memory access, use 'var &= const' or 'if (var < const)'") }
        var write = false
        if case .writable = memory { write = true }
        let pointer = s[register: r - 1]
        try helperMemory(&s, pc, pointer, regno: r - 1, size: v.umax, write: write, zeroAllowed: zeroAllowed)
    }

    /// `check_helper_mem_access`: `size` bytes at `arg` may be read (or written, and are
    /// initialized afterwards); a NULL may stand for zero bytes where zero is allowed.
    private mutating func helperMemory(_ s: inout VerifierState, _ pc: Int, _ arg: Register, regno: Int, size: UInt64, write: Bool, zeroAllowed: Bool)
        throws(VerificationError)
    {
        switch arg.kind {
        case .stack, .packet, .packetMeta, .mapKey, .mapValue, .memory:
            _ = try access(&s, pc, base: arg, regno: regno, offset: 0, size: Int(size), mode: .helper(write: write))
        default:
            if zeroAllowed, size == 0, arg.isScalar, arg.value.constantValue == 0 { return }
            throw error(pc, s, "R\(regno) type=\(arg.typeName) expected=fp")
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

    /// A reference handed back (a ring buffer record, a kfunc's object): it must be one the
    /// program holds (else refused in `unacquired`'s words), and every copy of the pointer
    /// becomes unusable.
    func release(_ s: inout VerifierState, _ pc: Int, _ record: Register, unacquired: String = "arg 1 is an unacquired reference")
        throws(VerificationError)
    {
        let ref = record.referenceID
        guard s.references.contains(where: { $0.id == ref }) else { throw error(pc, s, unacquired) }
        s.references.removeAll { $0.id == ref }
        s.updateAll(where: { $0.referenceID == ref }) { $0 = .unknownScalar }
    }
}

import BPFCore

/// What an access does.
enum AccessMode {
    /// A load (`signed`: sign-extending).
    case read(signed: Bool)
    /// A store of this value.
    case write(Register)
    /// An atomic read-modify-write.
    case atomic
    /// A helper reading or writing memory through an argument.
    case helper(write: Bool)

    var isHelper: Bool {
        if case .helper = self { return true }
        return false
    }

    var writes: Bool {
        switch self {
        case .read: false
        case .write, .atomic: true
        case .helper(let write): write
        }
    }
}

extension Analysis {
    /// Checks `size` bytes at `base + offset` (and, for pointers with a variable part, every
    /// offset it may have) and does the access on the abstract state.
    /// - Returns: what a load gives (an unknown number for the other modes).
    mutating func access(_ s: inout VerifierState, _ pc: Int, base: Register, regno: Int, offset: Int64, size: Int, mode: AccessMode) throws(VerificationError) -> Register {
        let off = base.offset + offset
        var loaded = Register.unknownScalar
        if case .read(let signed) = mode { loaded.value = Self.loadedBounds(size: size, signed: signed) }
        if base.maybeNull { throw error(pc, s, "R\(regno) invalid mem access '\(base.typeName)'") }
        switch base.kind {
        case .notInit:
            throw error(pc, s, "R\(regno) !read_ok")
        case .scalar, .mapPointer, .packetEnd:
            throw error(pc, s, "R\(regno) invalid mem access '\(base.typeName)'")
        case .context:
            guard base.hasFixedOffset else { throw error(pc, s, "variable ctx access var_off=\(base.value.tnum) disallowed") }
            guard base.offset == 0 else { throw error(pc, s, "dereference of modified ctx ptr R\(regno) off=\(base.offset) disallowed") }
            guard context != nil else { throw error(pc, s, "invalid bpf_context access off=\(off) size=\(size): this program type has no context layout") }
            if case .atomic = mode { throw error(pc, s, "BPF_ATOMIC stores into R\(regno) ctx is not allowed") }
            do {
                if mode.writes {
                    try context!.store(offset: Int(off), size: size)  // in place: no copy of the layout's arrays
                } else if let kind = try context!.load(offset: Int(off), size: size) {
                    loaded = .pointer(kind == .packet ? .packet : kind == .packetEnd ? .packetEnd : .packetMeta)
                }
            } catch {
                throw self.error(pc, s, error.message)
            }
            contextExtent = max(contextExtent, Int(off) + size)
        case .stack:
            loaded = try stackAccess(&s, pc, base: base, regno: regno, offset: off, size: size, mode: mode) ?? loaded
        case .packet, .packetMeta:
            if case .atomic = mode { throw error(pc, s, "BPF_ATOMIC stores into R\(regno) pkt is not allowed") }
            if mode.writes, [.socketFilter, .cgroupSKB].contains(config.programType) { throw error(pc, s, "cannot write into packet") }
            guard base.value.smin >= 0 else {
                throw error(pc, s, "R\(regno) min value is negative, either use unsigned index or do a if (index >=0) check.")
            }
            guard base.value.umax < 0xffff else { throw error(pc, s, "R\(regno) unbounded memory access, make sure to bounds check any such access") }
            guard off >= 0, off + Int64(size) <= base.range else {
                throw error(pc, s, "invalid access to packet, off=\(off) size=\(size), R\(regno)(id=\(base.id),off=\(base.offset),r=\(base.range))")
            }
        case .mapValue, .memory:
            let regionSize: Int64
            if base.kind == .mapValue {
                let shape = config.maps[Int(base.map)]
                regionSize = Int64(shape.valueSize)
                if mode.writes, shape.flags & 0x80 != 0 {  // BPF_F_RDONLY_PROG
                    throw error(pc, s, "write into map forbidden, value_size=\(regionSize) off=\(off) size=\(size)")
                }
                if let lock = shape.spinLockOffset, !mode.isHelper {
                    // Only the lock helpers touch the lock word.
                    let low = off + base.value.smin, high = off + Int64(base.value.umax) + Int64(size)
                    if low < Int64(lock) + 4, high > Int64(lock) {
                        throw error(pc, s, "bpf_spin_lock cannot be accessed directly by load/store")
                    }
                }
            } else {
                regionSize = base.range
            }
            try checkRegion(s, pc, base: base, regno: regno, offset: off, size: Int64(size), regionSize: regionSize)
        }
        return loaded
    }

    /// Every byte `base + offset ..< +size` may touch lies in `0..<regionSize`.
    mutating func checkRegion(_ s: VerifierState, _ pc: Int, base: Register, regno: Int, offset: Int64, size: Int64, regionSize: Int64) throws(VerificationError) {
        let what = base.kind == .mapValue ? "map value, value_size" : "memory, mem_size"
        guard base.value.smin >= 0 || base.hasFixedOffset else {
            throw error(pc, s, "R\(regno) min value is negative, either use unsigned index or do a if (index >=0) check.")
        }
        guard base.value.umax < 1 << 29 else {
            throw error(pc, s, "R\(regno) unbounded memory access, make sure to bounds check any such access")
        }
        let low = offset + base.value.smin, high = offset + Int64(base.value.umax) + size
        guard low >= 0, high <= regionSize else {
            throw error(pc, s, "invalid access to \(what)=\(regionSize) off=\(low) size=\(size)")
        }
    }

    /// A stack access: bounds, alignment, initialization, and spills.
    private mutating func stackAccess(_ s: inout VerifierState, _ pc: Int, base: Register, regno: Int, offset: Int64, size: Int, mode: AccessMode) throws(VerificationError) -> Register? {
        let frame = base.frame
        let low = offset + base.value.smin, high = offset + Int64(base.value.smax) + Int64(size)
        let verb = mode.writes ? "write to" : "read from"
        guard base.value.smin > Int64.min / 2, base.value.smax < Int64.max / 2, low >= -Int64(BPFLimits.stackSize), high <= 0 else {
            if base.hasFixedOffset { throw error(pc, s, "invalid \(verb) stack R\(regno) off=\(offset) size=\(size)") }
            throw error(pc, s, "invalid variable-offset \(verb) stack R\(regno) var_off=\(base.value.tnum) off=\(offset) size=\(size)")
        }
        let sub = s.frames[frame].subprogram
        stackDepth[sub] = max(stackDepth[sub], Int(-low))
        if config.kernelRules, base.hasFixedOffset, !mode.isHelper, offset % Int64(size) != 0 {
            throw error(pc, s, "misaligned stack access off \(offset) size \(size)")
        }
        let first = Frame.byteIndex(low), end = Frame.byteIndex(high)

        if mode.writes {
            if case .atomic = mode {
                for b in first..<end where s.frames[frame].slots[b] == .invalid {
                    throw error(pc, s, "invalid read from stack R\(regno) off \(offset) size \(size)")
                }
            }
            for slot in first / 8...(end - 1) / 8 { s.frames[frame].scrubSpill(at: slot) }
            if case .write(let value) = mode, base.hasFixedOffset {
                if size == 8, value.isInitialized {
                    for b in first..<end { s.frames[frame].slots[b] = .spill }
                    s.frames[frame].spills[first / 8] = value
                    return nil
                }
                if !value.isScalar { throw error(pc, s, "invalid size of register spill") }
                let kind: Frame.Slot = value.value.constantValue == 0 ? .zero : .misc
                for b in first..<end { s.frames[frame].slots[b] = kind }
                return nil
            }
            for b in first..<end { s.frames[frame].slots[b] = .misc }
            return nil
        }

        // Reads.
        let slots = s.frames[frame].slots
        if base.hasFixedOffset, slots[first] == .spill {
            let spilled = s.frames[frame].spills[first / 8]
            if size == 8, first % 8 == 0 { return spilled }
            guard spilled.isScalar else { throw error(pc, s, "invalid size of register fill") }
            if first % 8 == 0, let c = spilled.value.constantValue, size < 8 {
                return .scalar(.constant(c & ((1 << UInt64(size * 8)) - 1)))
            }
            return nil
        }
        var allZero = true
        for b in first..<end {
            switch slots[b] {
            case .invalid:
                if mode.isHelper {
                    throw error(pc, s, "invalid indirect read from stack R\(regno) off \(offset)+\(b - first) size \(end - first)")
                }
                throw error(pc, s, "invalid read from stack R\(regno) off \(offset)+\(b - first) size \(size)")
            case .zero: continue
            case .spill:
                allZero = false
                if !s.frames[frame].spills[b / 8].isScalar, case .read = mode {
                    throw error(pc, s, "invalid size of register fill")
                }
            case .misc: allZero = false
            }
        }
        return allZero && base.hasFixedOffset ? .scalar(.constant(0)) : nil
    }

    /// What a load of `size` bytes gives when nothing more is known.
    static func loadedBounds(size: Int, signed: Bool) -> ScalarBounds {
        if size == 8 { return .unknown }
        let bits = UInt64(size * 8)
        if signed { return .signedRange(-(Int64(1) << (bits - 1)), (Int64(1) << (bits - 1)) - 1) }
        return .unsignedRange(0, (1 << bits) - 1)
    }

    // MARK: - Atomics, wide loads, legacy packet loads

    mutating func atomic(_ s: inout VerifierState, _ pc: Int, _ insn: Instruction, base: Register, size: Int) throws(VerificationError) {
        guard size == 4 || size == 8 else { throw error(pc, s, "invalid atomic operand size") }
        guard let op = AtomicOp(rawValue: insn.imm) else { throw error(pc, s, "BPF_ATOMIC uses invalid atomic opcode \(hex(UInt8(truncatingIfNeeded: insn.imm)))") }
        let src = try readable(s, pc, Int(insn.src))
        if op == .cmpxchg { _ = try readable(s, pc, 0) }
        guard src.isScalar || base.kind == .stack else { throw error(pc, s, "R\(insn.src) leaks addr into mem") }
        _ = try access(&s, pc, base: base, regno: Int(insn.dst), offset: Int64(insn.offset), size: size, mode: .atomic)
        if op.fetches {
            let result = Register.scalar(Self.loadedBounds(size: size, signed: false))
            try writeRegister(&s, pc, op == .cmpxchg ? 0 : Int(insn.src), result)
        }
    }

    mutating func loadImmediateOrPacket(_ s: inout VerifierState, _ pc: Int, _ insn: Instruction) throws(VerificationError) {
        let d = Int(insn.dst)
        if insn.isWide {
            let high = code[pc + 1].imm
            switch WideImmediateKind(rawValue: insn.src) {
            case .immediate:
                let v = UInt64(UInt32(bitPattern: high)) << 32 | UInt64(UInt32(bitPattern: insn.imm))
                try writeRegister(&s, pc, d, .scalar(.constant(v)))
            case .mapFD, .mapIndex, .mapValue, .mapIndexValue:
                let index = Int(insn.imm)
                guard index >= 0, index < config.maps.count else { throw error(pc, s, "fd \(insn.imm) is not pointing to valid bpf_map") }
                var r = Register.pointer(.mapPointer)
                r.map = Int32(index)
                if insn.src == WideImmediateKind.mapValue.rawValue || insn.src == WideImmediateKind.mapIndexValue.rawValue {
                    let valueSize = config.maps[index].valueSize
                    guard high >= 0, Int(high) < valueSize else { throw error(pc, s, "invalid access to map value pointer, value_size=\(valueSize) off=\(high)") }
                    r.kind = .mapValue
                    r.offset = Int64(high)
                }
                try writeRegister(&s, pc, d, r)
            default:
                throw error(pc, s, "unsupported lddw source \(insn.src)")
            }
            return
        }
        // LD_ABS / LD_IND: socket filters and tc only, the skb in r6.
        guard !config.kernelRules || [.socketFilter, .schedCLS, .schedACT].contains(config.programType) else {
            throw error(pc, s, "BPF_LD_[ABS|IND] instructions not allowed for this program type")
        }
        guard s[register: 6].kind == .context else { throw error(pc, s, "at the time of BPF_LD_ABS|IND R6 != pointer to skb") }
        if insn.opcode & 0xe0 == MemMode.ind.rawValue {
            let index = try readable(s, pc, Int(insn.src))
            guard index.isScalar else { throw error(pc, s, "R\(insn.src) invalid index for BPF_LD_IND (pointer)") }
        }
        guard s.references.isEmpty else { throw error(pc, s, "BPF_LD_[ABS|IND] cannot be mixed with socket references") }
        guard s.lock == nil else { throw error(pc, s, "BPF_LD_[ABS|IND] cannot be used inside bpf_spin_lock-ed region") }
        for r in 1...5 { s[register: r] = .uninitialized }
        s[register: 0] = .scalar(Self.loadedBounds(size: MemSize(rawValue: insn.opcode & 0x18)!.byteCount, signed: false))
    }
}

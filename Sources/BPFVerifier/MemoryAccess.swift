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

/// The kernel's bound on pointer offsets and on the variable part of an access
/// (`BPF_MAX_VAR_OFF`): every offset the verifier reasons about stays within ±2^29, so sums of
/// offsets, bounds and sizes never overflow.
let maxVariableOffset: Int64 = 1 << 29

/// Whether `v` lies strictly inside ±`BPF_MAX_VAR_OFF`.
func insideVariableOffset(_ v: Int64) -> Bool { v > -maxVariableOffset && v < maxVariableOffset }

extension Analysis {
    /// Checks `size` bytes at `base + offset` (and, for pointers with a variable part, every
    /// offset it may have) and does the access on the abstract state — the kernel's
    /// `check_mem_access`: alignment first, then the rules of the pointer's type.
    /// - Returns: what a load gives (an unknown number for the other modes).
    mutating func access(_ s: inout VerifierState, _ pc: Int, base: Register, regno: Int, offset insnOffset: Int64, size: Int, mode: AccessMode)
        throws(VerificationError) -> Register
    {
        let off = base.offset + insnOffset  // |base.offset| < 2^29, |insnOffset| < 2^15
        var loaded = Register.unknownScalar
        var signed = false
        if case .read(let s) = mode {
            signed = s
            loaded.value = Self.loadedBounds(size: size, signed: s)
        }
        if base.maybeNull { throw error(pc, s, "R\(regno) invalid mem access '\(base.typeName)'") }
        if !mode.isHelper {
            // check_ptr_alignment: the stack always strictly (its spill tracking relies on
            // it), atomics strictly everywhere (an unaligned atomic faults on arm64), other
            // accesses not at all on a machine with efficient unaligned access.
            var strict = false
            if case .atomic = mode { strict = true }
            if base.kind == .stack, config.kernelRules { strict = true }
            if strict, size > 1, base.kind != .packet, base.kind != .packetMeta {
                let regOff = base.value.tnum + .constant(UInt64(bitPattern: off))
                if !regOff.isAligned(UInt64(size)) {
                    let what =
                        switch base.kind {
                        case .stack: "stack "
                        case .mapValue: "value "
                        case .context: "context "
                        default: ""
                        }
                    let variable = base.value.constantValue.map { String(Int64(bitPattern: $0)) } ?? base.value.tnum.description
                    throw error(pc, s, "misaligned \(what)access off \(variable)+\(base.offset)+\(insnOffset) size \(size)")
                }
            }
        }
        switch base.kind {
        case .notInit:
            throw error(pc, s, "R\(regno) !read_ok")
        case .scalar, .mapPointer, .packetEnd, .function:
            throw error(pc, s, "R\(regno) invalid mem access '\(base.typeName)'")
        case .btfPointer:
            loaded = try kernelObjectRead(s, pc, base: base, regno: regno, offset: off, size: size, mode: mode) ?? loaded
        case .context:
            guard base.offset >= 0 else { throw error(pc, s, "negative offset ctx ptr R\(regno) off=\(base.offset) disallowed") }
            guard base.offset == 0 else { throw error(pc, s, "dereference of modified ctx ptr R\(regno) off=\(base.offset) disallowed") }
            guard base.hasFixedOffset else { throw error(pc, s, "variable ctx access var_off=\(base.value.tnum) disallowed R\(regno) off=\(off)") }
            if case .atomic = mode { throw error(pc, s, "BPF_ATOMIC stores into R\(regno) ctx is not allowed") }
            guard let context else { throw error(pc, s, "invalid bpf_context access off=\(off) size=\(size)") }
            do {
                if mode.writes {
                    try context.store(offset: off, size: size)
                } else if let kind = try context.load(offset: off, size: size, signExtending: signed) {
                    loaded =
                        switch kind {
                        case .packet: .pointer(.packet)
                        case .packetEnd: .pointer(.packetEnd)
                        case .packetMeta: .pointer(.packetMeta)
                        case .btfPointer(let type, _): .kernelObject(type: type)
                        case .int32(let range): .scalar(.int32(in: range))
                        }
                    if case .btfPointer(_, true) = kind {
                        loaded.maybeNull = true
                        loaded.id = freshID()
                    }
                }
            } catch {
                throw self.error(pc, s, error.message)
            }
            contextExtent = max(contextExtent, Int(off) + size)
        case .stack:
            loaded = try stackAccess(&s, pc, base: base, regno: regno, offset: off, size: size, mode: mode) ?? loaded
        case .packet, .packetMeta:
            if case .atomic = mode { throw error(pc, s, "BPF_ATOMIC stores into R\(regno) pkt is not allowed") }
            // may_access_direct_pkt_data: the program types that may write the packet.
            if mode.writes, ![.schedCLS, .schedACT, .xdp, .lwtXmit, .skSKB, .skMsg, .cgroupSockopt].contains(config.programType) {
                throw error(pc, s, "cannot write into packet")
            }
            guard base.value.smin >= 0 else {
                throw error(pc, s, "R\(regno) min value is negative, either use unsigned index or do a if (index >=0) check.")
            }
            guard base.value.umax < 0xffff else { throw error(pc, s, "R\(regno) unbounded memory access, make sure to bounds check any such access") }
            guard off >= 0, off + Int64(size) <= base.range, size > 0 || mode.isHelper else {
                throw error(
                    pc, s,
                    "invalid access to packet, off=\(off) size=\(size), R\(regno)(id=\(base.id),off=\(base.offset),r=\(base.range))\nR\(regno) offset is outside of the packet"
                )
            }
        case .mapKey:
            // check_mem_access: a map's key is read, never written.
            guard !mode.writes else { throw error(pc, s, "write to change key R\(regno) not allowed") }
            let keySize = Int64(config.maps[Int(base.map)].keySize)
            try checkRegion(s, pc, base: base, regno: regno, offset: off, size: Int64(size), regionSize: keySize, zeroAllowed: mode.isHelper)
        case .mapValue, .memory:
            let regionSize: Int64
            if base.kind == .mapValue {
                let shape = config.maps[Int(base.map)]
                regionSize = Int64(shape.valueSize)
                if mode.writes, shape.isReadOnlyToPrograms {
                    throw error(pc, s, "write into map forbidden, value_size=\(regionSize) off=\(off) size=\(size)")
                }
            } else {
                regionSize = base.range
            }
            try checkRegion(s, pc, base: base, regno: regno, offset: off, size: Int64(size), regionSize: regionSize, zeroAllowed: mode.isHelper)
            if case .read = mode, base.kind == .mapValue, let bytes = config.frozenValues[Int(base.map)], let variable = base.value.constantValue {
                // check_mem_access: a read-only frozen map's contents are known numbers.
                let at = Int(off) + Int(Int64(bitPattern: variable))
                if at >= 0, at + size <= bytes.count, [1, 2, 4, 8].contains(size) {
                    var value: UInt64 = 0
                    for i in 0..<size { value |= UInt64(bytes[at + i]) << (8 * i) }
                    if signed, size < 8, value & (1 << (8 * size - 1)) != 0 { value |= ~0 << (8 * size) }
                    loaded = .scalar(.constant(value))
                }
            }
            if base.kind == .mapValue, let lock = config.maps[Int(base.map)].spinLockOffset {
                // check_map_access: no load, store or helper touches the lock word but the
                // lock helpers (which do not come here).
                let low = off + base.value.smin, high = off + Int64(base.value.umax) + Int64(size)
                if low < Int64(lock) + 4, high > Int64(lock) {
                    throw error(pc, s, "bpf_spin_lock cannot be accessed directly by load/store")
                }
            }
        }
        return loaded
    }

    /// Every byte `base + offset ..< +size` may touch lies in `0..<regionSize`: the kernel's
    /// `check_mem_region_access`, which tries the variable part's smallest signed and largest
    /// unsigned value.
    mutating func checkRegion(
        _ s: VerifierState, _ pc: Int, base: Register, regno: Int, offset: Int64, size: Int64, regionSize: Int64, zeroAllowed: Bool = false
    ) throws(VerificationError) {
        let what = base.kind == .mapValue ? "map value, value_size" : base.kind == .mapKey ? "map key, key_size" : "memory, mem_size"
        let smin = base.value.smin
        // `offset` is within ±2^29 and `smin` above -2^29 when it is added, so neither sum
        // below overflows.
        if smin < 0, smin <= -maxVariableOffset || offset + smin < 0 {
            throw error(pc, s, "R\(regno) min value is negative, either use unsigned index or do a if (index >=0) check.")
        }
        func inside(_ at: Int64) -> Bool { at >= 0 && (size > 0 || (size == 0 && zeroAllowed)) && at + size <= regionSize }
        guard inside(offset + smin) else {
            throw error(
                pc, s, "invalid access to \(what)=\(regionSize) off=\(offset + smin) size=\(size)\nR\(regno) min value is outside of the allowed memory range")
        }
        guard base.value.umax < UInt64(maxVariableOffset) else {
            throw error(pc, s, "R\(regno) unbounded memory access, make sure to bounds check any such access")
        }
        let high = offset + Int64(base.value.umax)
        guard inside(high) else {
            throw error(pc, s, "invalid access to \(what)=\(regionSize) off=\(high) size=\(size)\nR\(regno) max value is outside of the allowed memory range")
        }
    }

    /// A stack access: bounds (`check_stack_access_within_bounds`), initialization, and
    /// spills (`check_stack_write_fixed_off`).
    private mutating func stackAccess(_ s: inout VerifierState, _ pc: Int, base: Register, regno: Int, offset: Int64, size: Int, mode: AccessMode)
        throws(VerificationError) -> Register?
    {
        let frame = base.frame
        // A pointer into a frame that has returned cannot exist: no stack pointer is spilled
        // into a caller's frame or returned. Refuse rather than trust that here.
        guard frame < s.frames.count else { throw error(pc, s, "R\(regno) points into the stack of a function that has returned") }
        let verb = mode.isHelper ? "indirect access to" : mode.writes ? "write to" : "read from"
        let low: Int64, high: Int64
        if let c = base.value.constantValue {
            low = Int64(bitPattern: c) &+ offset
            high = low &+ Int64(size)
        } else {
            guard insideVariableOffset(base.value.smin), insideVariableOffset(base.value.smax) else {
                throw error(pc, s, "invalid unbounded variable-offset \(verb) stack R\(regno)")
            }
            low = base.value.smin + offset
            high = base.value.smax + offset + Int64(size)
        }
        guard low >= -Int64(BPFLimits.stackSize), low <= -1, high <= 0 else {
            if base.hasFixedOffset { throw error(pc, s, "invalid \(verb) stack R\(regno) off=\(offset) size=\(size)") }
            throw error(pc, s, "invalid variable-offset \(verb) stack R\(regno) var_off=\(base.value.tnum) off=\(offset) size=\(size)")
        }
        let sub = s.frames[frame].subprogram
        stackDepth[sub] = max(stackDepth[sub], Int(-low))
        let first = Frame.byteIndex(low), end = Frame.byteIndex(high)
        if end <= first { return nil }  // a helper's access of zero bytes

        if mode.writes {
            if case .atomic = mode, !config.allowUninitializedStack {
                for b in first..<end where s.frames[frame].slots[b] == .invalid {
                    throw error(pc, s, "invalid read from stack R\(regno) off \(offset) size \(size)")
                }
            }
            if case .write(let value) = mode, base.hasFixedOffset, value.isInitialized, !value.isScalar {
                // A pointer spilled: whole, and a stack pointer only into its own frame's
                // stack, so that no pointer to a frame outlives it.
                guard size == 8 else { throw error(pc, s, "invalid size of register spill") }
                if value.kind == .stack, frame != s.frames.count - 1 {
                    throw error(pc, s, "cannot spill pointers to stack into stack frame of the caller")
                }
            }
            for slot in first / 8...(end - 1) / 8 { s.frames[frame].scrubSpill(at: slot) }
            if case .write(let value) = mode, base.hasFixedOffset {
                if size == 8, value.isInitialized {
                    for b in first..<end { s.frames[frame].slots[b] = .spill }
                    s.frames[frame].spills[first / 8] = value
                    return nil
                }
                if value.isScalar, first % 8 == 0 {
                    // A narrow spill of a number at a slot's start (check_stack_write_fixed_off):
                    // its bytes keep the register, the rest of the slot becomes written (zeros
                    // stay zeros); a value wider than the spill loses its links to copies.
                    var spilled = value
                    if 64 - spilled.value.umax.leadingZeroBitCount > size * 8 { spilled.id = 0 }
                    for b in first..<end { s.frames[frame].slots[b] = .spill }
                    for b in end..<first + 8 where s.frames[frame].slots[b] != .zero {
                        if s.frames[frame].slots[b] == .invalid, config.allowUninitializedStack { continue }
                        s.frames[frame].slots[b] = .misc
                    }
                    s.frames[frame].spills[first / 8] = spilled
                    return nil
                }
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
            let slotStart = first - first % 8
            let spillSize = (slotStart..<slotStart + 8).prefix { slots[$0] == .spill }.count
            if size == 8, spillSize == 8 { return spilled }
            guard spilled.isScalar else { throw error(pc, s, "invalid size of register fill") }
            if first % 8 == 0, size <= spillSize {
                // A fill from the spill's start: the register, narrowed to the load's width
                // (coerce_reg_to_size, _sx); a value wider than that loses its links.
                if case .read(signed: true) = mode {
                    let half = Int64(1) << Int64(size * 8 - 1)
                    if spilled.value.smin >= -half, spilled.value.smax < half { return spilled }
                } else if size == 8 || spilled.value.umax >> UInt64(size * 8) == 0 {
                    return spilled
                }
                if case .read = mode, let c = spilled.value.constantValue {
                    let low = c & ((1 << UInt64(size * 8)) - 1)
                    guard case .read(signed: true) = mode else { return .scalar(.constant(low)) }
                    let shift = UInt64(64 - size * 8)
                    return .scalar(.constant(UInt64(bitPattern: Int64(bitPattern: low << shift) >> Int64(shift))))
                }
                return nil
            }
            if spillSize < 8 {
                // Past a narrow spill, or across it: the bytes as they are.
                return try stackBytes(s, pc, frame: frame, first: first, end: end, regno: regno, offset: offset, size: size, mode: mode, fixed: true)
            }
            return nil
        }
        return try stackBytes(s, pc, frame: frame, first: first, end: end, regno: regno, offset: offset, size: size, mode: mode, fixed: base.hasFixedOffset)
    }

    /// A read of stack bytes that are not one register's spill: each must be written, and all
    /// zeros read as zero.
    private func stackBytes(
        _ s: VerifierState, _ pc: Int, frame: Int, first: Int, end: Int, regno: Int, offset: Int64, size: Int, mode: AccessMode, fixed: Bool
    ) throws(VerificationError) -> Register? {
        let slots = s.frames[frame].slots
        var allZero = true
        for b in first..<end {
            switch slots[b] {
            case .invalid:
                if config.allowUninitializedStack {
                    // check_stack_read_fixed_off and check_stack_range_initialized: read as
                    // anything (a helper writing there makes it written).
                    allZero = false
                    continue
                }
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
        return allZero && fixed ? .scalar(.constant(0)) : nil
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
        guard let op = AtomicOp(rawValue: insn.imm) else {
            throw error(pc, s, "BPF_ATOMIC uses invalid atomic opcode \(hex(UInt8(truncatingIfNeeded: insn.imm)))")
        }
        _ = try readable(s, pc, Int(insn.src))
        if op == .cmpxchg { _ = try readable(s, pc, 0) }
        // A privileged program may store a pointer atomically: it becomes a number there
        // (check_atomic_rmw refuses it only without CAP_PERFMON). Contexts and packets take no
        // atomics (atomic_ptr_type_ok).
        if base.kind == .context || base.kind == .packet || base.kind == .packetMeta {
            throw error(pc, s, "BPF_ATOMIC stores into R\(insn.dst) \(base.typeName) is not allowed")
        }
        if base.kind == .stack, !base.value.isConstant {
            // check_stack_read: a read that goes to no register needs a fixed offset.
            throw error(
                pc, s,
                "variable offset stack pointer cannot be passed into helper function; var_off=\(base.value.tnum) off=\(base.offset + Int64(insn.offset)) size=\(size)"
            )
        }
        // check_atomic_rmw: read, load the old value into its register, then write through
        // the base register as it is now (a fetch into the base register itself leaves a
        // number there, which is no pointer to write through).
        _ = try access(&s, pc, base: base, regno: Int(insn.dst), offset: Int64(insn.offset), size: size, mode: .read(signed: false))
        if op.fetches {
            let result = Register.scalar(Self.loadedBounds(size: size, signed: false))
            try writeRegister(&s, pc, op == .cmpxchg ? 0 : Int(insn.src), result)
        }
        let after = s[register: Int(insn.dst)]
        _ = try access(&s, pc, base: after, regno: Int(insn.dst), offset: Int64(insn.offset), size: size, mode: .atomic)
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
                    guard high >= 0, Int(high) < valueSize else {
                        throw error(pc, s, "invalid access to map value pointer, value_size=\(valueSize) off=\(high)")
                    }
                    r.kind = .mapValue
                    r.offset = Int64(high)
                }
                try writeRegister(&s, pc, d, r)
            case .function:
                // The kernel takes a function's address only with BTF function info.
                guard config.hasFunctionInfo else { throw error(pc, s, "missing btf func_info") }
                // The control flow pass checked that a subprogram starts there.
                try writeRegister(&s, pc, d, .pointer(.function, offset: Int64(pc + 1 + Int(insn.imm))))
            case .btfID:
                // A kernel function's address (`bpf_ksym_exists`): read-only memory of size 0,
                // never NULL (check_pseudo_btf_id). Kernel variables are not supported.
                guard let types = config.kernelTypes, insn.imm > 0, types.kernelFunction(UInt32(insn.imm)) != nil else {
                    throw error(pc, s, "lddw of kernel btf_id \(insn.imm): only kernel functions' addresses are supported")
                }
                var r = Register.pointer(.memory)
                r.range = 0
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
        let skb = s[register: 6]
        guard skb.kind == .context else { throw error(pc, s, "at the time of BPF_LD_ABS|IND R6 != pointer to skb") }
        guard skb.offset >= 0 else { throw error(pc, s, "negative offset ctx ptr R6 off=\(skb.offset) disallowed") }
        guard skb.offset == 0 else { throw error(pc, s, "dereference of modified ctx ptr R6 off=\(skb.offset) disallowed") }
        guard skb.hasFixedOffset else { throw error(pc, s, "variable ctx access var_off=\(skb.value.tnum) disallowed") }
        if insn.opcode & 0xe0 == MemMode.ind.rawValue {
            let index = try readable(s, pc, Int(insn.src))
            guard index.isScalar else { throw error(pc, s, "R\(insn.src) invalid index for BPF_LD_IND (pointer)") }
        }
        guard s.references.isEmpty else { throw error(pc, s, "BPF_LD_[ABS|IND] cannot be mixed with socket references") }
        guard s.lock == nil else { throw error(pc, s, "BPF_LD_[ABS|IND] cannot be used inside bpf_spin_lock-ed region") }
        for r in 1...5 { s[register: r] = .uninitialized }
        // The loaded bytes, zero-extended; the kernel forgets even that (check_ld_abs marks r0
        // unknown), and with its rules so do we.
        s[register: 0] = config.kernelRules ? .unknownScalar : .scalar(Self.loadedBounds(size: MemSize(rawValue: insn.opcode & 0x18)!.byteCount, signed: false))
    }
}

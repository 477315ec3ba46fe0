import BPFCore

/// Precision tracking, the kernel's way of letting states that differ only in numbers nobody
/// relies on prune each other.
///
/// A scalar is *precise* in a remembered state when some path explored from it depended on
/// its exact range: a jump whose outcome the range decided, pointer arithmetic, a helper's
/// size argument, a NULL check against it. Only precise scalars must be covered by range when
/// states are compared; the others match any scalar. Dependence is found by walking the path's
/// instruction history backwards from where it arises (`r2 += r1` needs `r1`, and so whatever
/// `r1` was computed from) up to the remembered states on the path, marking them.

/// Registers and stack slots, per call frame (index 0 the program's own).
struct PrecisionSet: Equatable {
    /// Bit `r`: register r.
    var registers = SIMD8<UInt16>()
    /// Bit `s`: the 8-byte stack slot s (0 is `fp-512`).
    var stack = SIMD8<UInt64>()

    var isEmpty: Bool {
        let r = unsafeBitCast(registers, to: SIMD2<UInt64>.self), s = stack
        return (r[0] | r[1] | s[0] | s[1] | s[2] | s[3] | s[4] | s[5] | s[6] | s[7]) == 0
    }

    mutating func subtract(_ other: PrecisionSet) {
        registers &= ~other.registers
        stack &= ~other.stack
    }

    static let all = PrecisionSet(registers: .init(repeating: 0x7ff), stack: .init(repeating: ~0))

    func register(_ r: Int, frame f: Int) -> Bool { registers[f] & 1 << UInt16(r) != 0 }
    func slot(_ s: Int, frame f: Int) -> Bool { stack[f] & 1 << UInt64(s) != 0 }
}

/// A precision request already walked back: from where in the path's history, with what.
struct BacktrackMemo {
    var position: Int
    var needed: PrecisionSet
}

/// One instruction on a path, with what backtracking needs and cannot recompute from the code:
/// the call depth, and either the stack slots a memory access touched or the registers a
/// comparison narrowed together.
struct HistoryEntry {
    var pc: Int32
    /// Frames on the path when the instruction ran.
    var depth: UInt8
    /// Memory access: `stackFlag | frame << 16 | first slot << 8 | last slot`, or 0 when the
    /// access is not to a known stack slot. Conditional jump: the registers compared or
    /// narrowed with them (same id), plus `beyondFrame` when copies outside this frame's
    /// registers were narrowed too.
    var aux: UInt32

    static let stackFlag: UInt32 = 1 << 31
    static let beyondFrame: UInt32 = 1 << 30
}

extension Analysis {
    /// What backtracking will need to know about instruction `insn` at `pc`, run in state `s`.
    @inline(__always) static func historyEntry(_ insn: Instruction, _ s: VerifierState, _ pc: Int) -> HistoryEntry {
        var entry = HistoryEntry(pc: Int32(pc), depth: UInt8(s.frames.count), aux: 0)
        switch insn.opClass {
        case .ldx, .st, .stx:
            let base = s[register: Int(insn.opClass == .ldx ? insn.src : insn.dst)]
            guard base.kind == .stack, base.hasFixedOffset else { break }
            let size = Int64(MemSize(rawValue: insn.opcode & 0x18)!.byteCount)
            let low = base.offset + Int64(insn.offset)
            guard low >= -Int64(BPFLimits.stackSize), low + size <= 0 else { break }  // refused by the access itself
            let first = UInt32(Frame.byteIndex(low) / 8), last = UInt32(Frame.byteIndex(low + size - 1) / 8)
            entry.aux = HistoryEntry.stackFlag | UInt32(base.frame) << 16 | first << 8 | last
        case .jmp, .jmp32:
            let op = insn.opcode & 0xf0
            guard op != JumpOp.ja.rawValue, op != JumpOp.call.rawValue, op != JumpOp.exit.rawValue else { break }
            let usesRegister = insn.opcode & 0x08 != 0
            var mask: UInt32 = 1 << UInt32(insn.dst) | (usesRegister ? 1 << UInt32(insn.src) : 0)
            var ids: (UInt32, UInt32) = (0, 0)
            if s[register: Int(insn.dst)].isScalar { ids.0 = s[register: Int(insn.dst)].id }
            if usesRegister, insn.src <= 10, s[register: Int(insn.src)].isScalar { ids.1 = s[register: Int(insn.src)].id }
            if ids != (0, 0) {
                func linked(_ r: Register) -> Bool { r.isScalar && r.id != 0 && (r.id == ids.0 || r.id == ids.1) }
                let top = s.frames.count - 1
                for f in s.frames.indices {
                    for r in 0..<11 where linked(s[register: r, frame: f]) {
                        if f == top { mask |= 1 << UInt32(r) } else { mask |= HistoryEntry.beyondFrame }
                    }
                    for spill in s.frames[f].spills where spill.kind != .notInit && linked(spill) { mask |= HistoryEntry.beyondFrame }
                }
            }
            entry.aux = mask
        default:
            break
        }
        return entry
    }

    /// Registers `registers` of the current frame must be precise before the instruction whose
    /// history comes next: mark every remembered state on the path they derive from.
    mutating func requirePrecise(_ registers: UInt16, depth: Int, history: [HistoryEntry], checkpoint: Checkpoint?) {
        var needed = PrecisionSet()
        needed.registers[depth - 1] = registers
        backtrack(needed, history: history, checkpoint: checkpoint)
    }

    /// Walks `needed` back through `history`, then through each remembered state on the path
    /// and the history that led to it, marking those states.
    mutating func backtrack(_ needed: PrecisionSet, history: [HistoryEntry], checkpoint: Checkpoint?) {
        let requested = needed
        var needed = needed, node = checkpoint
        // In the current path's own history, what earlier requests took back from where they
        // were made is done already: only the rest goes on. In a loop, each iteration's
        // request then walks back only over that iteration.
        var position = history.count, memo = backtracked.count - 1
        while position > 0 {
            while memo >= 0, backtracked[memo].position >= position {
                if backtracked[memo].position == position { needed.subtract(backtracked[memo].needed) }
                memo -= 1
            }
            if needed.isEmpty { break }
            position -= 1
            if !Self.backtrack(code[Int(history[position].pc)], history[position], &needed) {
                Self.markAllPrecise(from: node)
                return
            }
        }
        backtracked.append(BacktrackMemo(position: history.count, needed: requested))
        if needed.isEmpty { return }
        var steps: [HistoryEntry] = []
        while true {
            for entry in steps.reversed() {
                if !Self.backtrack(code[Int(entry.pc)], entry, &needed) {
                    Self.markAllPrecise(from: node)
                    return
                }
                if needed.isEmpty { return }
            }
            guard let c = node, !c.allPrecise else { return }
            c.mark(&needed)
            if needed.isEmpty { return }
            steps = c.incoming
            node = c.parent
        }
    }

    /// When dependence cannot be followed exactly: every scalar on the path is precise.
    private static func markAllPrecise(from checkpoint: Checkpoint?) {
        var node = checkpoint
        while let c = node, !c.allPrecise {
            c.allPrecise = true
            node = c.parent
        }
    }

    /// Undoes one instruction on `needed`: what it defined is replaced by what it read.
    /// - Returns: false when the dependence cannot be followed (copies narrowed outside the frame).
    @inline(__always) private static func backtrack(_ insn: Instruction, _ entry: HistoryEntry, _ needed: inout PrecisionSet) -> Bool {
        let f = Int(entry.depth) - 1
        let dst = UInt16(1) << UInt16(insn.dst & 15), src = UInt16(1) << UInt16(insn.src & 15)
        let usesRegister = insn.opcode & 0x08 != 0
        let callClobbered: UInt16 = 0b11_1111
        switch insn.opClass {
        case .alu, .alu64:
            guard needed.registers[f] & dst != 0 else { return true }
            let op = insn.opcode & 0xf0
            if op == ALUOp.mov.rawValue {
                needed.registers[f] &= ~dst
                if usesRegister { needed.registers[f] |= src }
            } else if usesRegister, op != ALUOp.neg.rawValue, op != ALUOp.end.rawValue {
                needed.registers[f] |= src
            }
        case .ldx:
            guard needed.registers[f] & dst != 0 else { return true }
            needed.registers[f] &= ~dst
            if let (frame, slots) = stackSlots(entry) { needed.stack[frame] |= slots }
        case .st, .stx:
            if insn.opClass == .stx, insn.opcode & 0xe0 == MemMode.atomic.rawValue {
                // A fetched value comes from memory, whose contents are not tracked.
                if let op = AtomicOp(rawValue: insn.imm), op.fetches { needed.registers[f] &= op == .cmpxchg ? ~1 : ~src }
                return true
            }
            guard let (frame, slots) = stackSlots(entry), needed.stack[frame] & slots != 0 else { return true }
            if insn.opClass == .stx { needed.registers[f] |= src }
            // Only a whole aligned slot written here no longer depends on what was there.
            if insn.opcode & 0x18 == MemSize.dw.rawValue, slots.nonzeroBitCount == 1 {
                needed.stack[frame] &= ~slots
            }
        case .ld:
            needed.registers[f] &= insn.isWide ? ~dst : ~callClobbered
        case .jmp, .jmp32:
            let op = insn.opcode & 0xf0
            if op == JumpOp.call.rawValue {
                if insn.src == CallKind.local.rawValue, !usesRegister, f + 1 < 8 {
                    // The callee's arguments were the caller's r1-r5; its frame did not exist.
                    needed.registers[f] |= needed.registers[f + 1] & 0b11_1110
                    needed.registers[f + 1] = 0
                    needed.stack[f + 1] = 0
                } else {
                    needed.registers[f] &= ~callClobbered
                }
            } else if op == JumpOp.exit.rawValue {
                // Returning to the caller: its r0 was the callee's.
                guard f > 0 else { return true }
                if needed.registers[f - 1] & 1 != 0 { needed.registers[f] |= 1 }
                needed.registers[f - 1] &= ~callClobbered
            } else if op != JumpOp.ja.rawValue {
                let involved = UInt16(truncatingIfNeeded: entry.aux & 0x7ff)
                guard needed.registers[f] & involved != 0 else { return true }
                if entry.aux & HistoryEntry.beyondFrame != 0 { return false }
                needed.registers[f] |= involved
            }
        }
        return true
    }

    private static func stackSlots(_ entry: HistoryEntry) -> (Int, UInt64)? {
        guard entry.aux & HistoryEntry.stackFlag != 0 else { return nil }
        let frame = Int(entry.aux >> 16 & 0xff), first = entry.aux >> 8 & 0xff, last = entry.aux & 0xff
        let mask = (last - first == 63 ? ~0 : (UInt64(1) << UInt64(last - first + 1)) - 1) << UInt64(first)
        return (frame, mask)
    }
}

extension Checkpoint {
    /// Marks the scalars of `needed` precise in this state, and leaves in `needed` only those
    /// newly marked: the rest were followed further back when they were marked.
    func mark(_ needed: inout PrecisionSet) {
        for f in state.frames.indices {
            var registers = needed.registers[f]
            while registers != 0 {
                let r = registers.trailingZeroBitCount
                registers &= registers - 1
                let bit = UInt16(1) << UInt16(r)
                if !state[register: r, frame: f].isScalar || precise.registers[f] & bit != 0 {
                    needed.registers[f] &= ~bit
                } else {
                    precise.registers[f] |= bit
                }
            }
            var slots = needed.stack[f]
            while slots != 0 {
                let s = slots.trailingZeroBitCount
                slots &= slots - 1
                let bit = UInt64(1) << UInt64(s)
                let frame = state.frames[f]
                let pointerSpill = frame.slots[s * 8] == .spill && !frame.spills[s].isScalar
                if pointerSpill || precise.stack[f] & bit != 0 {
                    needed.stack[f] &= ~bit
                } else {
                    precise.stack[f] |= bit
                }
            }
        }
        for f in state.frames.count..<8 {
            needed.registers[f] = 0
            needed.stack[f] = 0
        }
    }
}

import BPFCore
import BPFPlatform

/// One call frame's stack (its registers are in `VerifierState.registers`). The stack is
/// tracked a byte at a time; an aligned 8-byte store of a register keeps the register itself
/// (a "spill"), so a pointer saved on the stack is still a pointer when it is loaded back.
package struct Frame: Hashable, Sendable {
    package enum Slot: UInt8, Sendable {
        /// Never written: reading it is an error.
        case invalid
        /// Written with a value the verifier does not track.
        case misc
        /// Written with zero.
        case zero
        /// Part of a spilled register (see `spills`).
        case spill
    }

    /// Slot kinds of the 512 stack bytes; index 0 is `fp-512`.
    package var slots = [Slot](repeating: .invalid, count: BPFLimits.stackSize)
    package init() {}

    /// The register spilled into each 8-byte slot (index 0 is `fp-512`), when its bytes say so.
    package var spills = [Register](repeating: .uninitialized, count: BPFLimits.stackSize / 8)
    /// The instruction that called into this frame (-1 for the program's own frame).
    package var callSite = -1
    /// Index of the subprogram running in this frame.
    package var subprogram = 0
    /// Whether a helper (bpf_loop) called this frame's function back: its exit ends the path.
    package var isCallback = false
    /// References held when the callback began: it must release what it acquires.
    package var referencesAtEntry = 0

    /// The stack byte at `offset` from the frame pointer (negative).
    static func byteIndex(_ offset: Int64) -> Int { Int(offset) + BPFLimits.stackSize }

    /// Forgets a spill that a partial write breaks: its other bytes become unknown numbers
    /// (even those of a spilled zero, as in the kernel).
    mutating func scrubSpill(at slot: Int) {
        guard spills[slot].kind != .notInit else { return }
        for b in slot * 8..<slot * 8 + 8 where slots[b] == .spill { slots[b] = .misc }
        spills[slot] = .uninitialized
    }
}

/// Registers and stack a program starts with, for tests that give their own.
package struct EntryState: Sendable {
    package var registers = [Register](repeating: .uninitialized, count: 11)
    package var frame = Frame()
    package init() {}
}

/// The verifier's state on one path: the call frames (innermost last) and the references the
/// program holds.
struct VerifierState: Hashable, Sendable {
    /// Every frame's r0–r10, the program's own frame first. Held apart from the frames' stacks
    /// so that writing a register after a branch copies 11 registers, not a frame's stack too.
    var registers = [Register](repeating: .uninitialized, count: 11)
    var frames = [Frame()]
    /// Acquired references (ring buffer records): id and the instruction that acquired it.
    var references: [Reference] = []

    struct Reference: Hashable, Sendable {
        var id: UInt32
        var instruction: Int
    }

    /// The spin lock held: the map value's map and id (every copy of the pointer shares it),
    /// and the instruction that took it.
    var lock: HeldLock?

    struct HeldLock: Hashable, Sendable {
        var map: Int32
        var id: UInt32
        var instruction: Int
    }

    var current: Frame {
        get { frames[frames.count - 1] }
        _modify { yield &frames[frames.count - 1] }
    }

    /// Frames on the path: 1 in the program's own code, one more per bpf-to-bpf call.
    var depth: Int { frames.count }

    /// Register `r` of the innermost frame.
    subscript(register r: Int) -> Register {
        get { registers[registers.count - 11 + r] }
        set { registers[registers.count - 11 + r] = newValue }
    }

    /// Register `r` of frame `f` (0 the program's own).
    subscript(register r: Int, frame f: Int) -> Register {
        get { registers[f * 11 + r] }
        set { registers[f * 11 + r] = newValue }
    }

    /// Enters a called subprogram: a frame with these registers.
    mutating func push(_ frame: Frame, registers callee: [Register]) {
        frames.append(frame)
        registers.append(contentsOf: callee)
    }

    /// Returns to the caller's frame.
    mutating func pop() {
        frames.removeLast()
        registers.removeLast(11)
    }

    /// A cheap digest of the innermost frame's registers: a state seen again on its own path
    /// (a loop that changes nothing) has the same key, and most others do not.
    var loopKey: Int {
        registers.withUnsafeBufferPointer { all in
            var key = frames.count
            for r in all[(all.count - 11)...] {
                key = key &* 31 &+ Int(r.kind.rawValue)
                key = key &* 31 &+ Int(truncatingIfNeeded: r.offset ^ r.value.smin)
                key = key &* 31 &+ Int(truncatingIfNeeded: r.value.umax ^ r.value.tnum.mask) &+ Int(r.id)
            }
            return key
        }
    }

    /// Applies `update` to every register and spilled register, in every frame, that `matches`.
    mutating func updateAll(where matches: (Register) -> Bool, _ update: (inout Register) -> Void) {
        for r in registers.indices where matches(registers[r]) { update(&registers[r]) }
        for f in frames.indices {
            // Read in place; a frame is written to (and so copied, if shared) only where a
            // spill matches.
            let hits: UInt64 = frames[f].spills.withUnsafeBufferPointer { spills in
                var hits: UInt64 = 0
                for s in 0..<spills.count where spills[s].kind != .notInit && matches(spills[s]) { hits |= 1 << UInt64(s) }
                return hits
            }
            var rest = hits
            while rest != 0 {
                let s = rest.trailingZeroBitCount
                rest &= rest - 1
                update(&frames[f].spills[s])
            }
        }
    }
}

// MARK: - Pruning

/// Which register ids of an explored state correspond to which of the current one: two states
/// are only alike if their ids pair up one to one.
struct IDMap {
    /// Pairs (old id, current id), each packed as `old << 32 | current`, in caller-provided
    /// scratch memory: no allocation per check.
    private let pairs: UnsafeMutableBufferPointer<UInt64>
    private var count = 0

    init(scratch: UnsafeMutableBufferPointer<UInt64>) { pairs = scratch }

    mutating func match(_ old: UInt32, _ cur: UInt32) -> Bool {
        if old == 0 && cur == 0 { return true }
        if old == 0 || cur == 0 { return false }
        for i in 0..<count {
            let o = UInt32(pairs[i] >> 32), c = UInt32(truncatingIfNeeded: pairs[i])
            if o == old || c == cur { return o == old && c == cur }
        }
        guard count < pairs.count else { return false }  // too many ids to pair: not alike
        pairs[count] = UInt64(old) << 32 | UInt64(cur)
        count += 1
        return true
    }
}

extension VerifierState {
    /// Whether every execution from `self` is also an execution from `old`, for the registers
    /// live at this point — so a fully verified `old` proves `self` safe too. Scalars outside
    /// `precision` (nil: all of them are in it) match any scalar.
    func isSubsumed(by old: VerifierState, precision: PrecisionSet?, live: SIMD8<UInt16>) -> Bool {
        guard frames.count == old.frames.count, references.count == old.references.count else { return false }
        let precision = precision ?? .all
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 128) { scratch in
            var ids = IDMap(scratch: scratch)
            for (o, c) in zip(old.references, references) where !ids.match(o.id, c.id) { return false }
            switch (old.lock, lock) {
            case (nil, nil): break
            case let (o?, c?): if o.map != c.map || !ids.match(o.id, c.id) { return false }
            default: return false
            }
            return old.registers.withUnsafeBufferPointer { oldRegisters in
                registers.withUnsafeBufferPointer { curRegisters in
                    old.frames.withUnsafeBufferPointer { oldFrames in
                        frames.withUnsafeBufferPointer { curFrames in
                            Self.isSubsumed(curFrames, curRegisters, by: oldFrames, oldRegisters, precision: precision, live: live, ids: &ids)
                        }
                    }
                }
            }
        }
    }

    private static func isSubsumed(
        _ cur: UnsafeBufferPointer<Frame>, _ curRegisters: UnsafeBufferPointer<Register>,
        by old: UnsafeBufferPointer<Frame>, _ oldRegisters: UnsafeBufferPointer<Register>,
        precision: PrecisionSet, live: SIMD8<UInt16>, ids: inout IDMap
    ) -> Bool {
        // Registers first, innermost frame first: where states differ most often.
        for f in cur.indices.reversed() {
            let liveMask = live[f]
            for r in 0..<11 where liveMask & (1 << r) != 0 {
                if !registerSubsumed(oldRegisters[f * 11 + r], curRegisters[f * 11 + r], precise: precision.register(r, frame: f), &ids) { return false }
            }
        }
        for f in cur.indices {
            guard old[f].callSite == cur[f].callSite else { return false }
            let alike = old[f].slots.withUnsafeBufferPointer { oldSlots in
                cur[f].slots.withUnsafeBufferPointer { curSlots in
                    old[f].spills.withUnsafeBufferPointer { oldSpills in
                        cur[f].spills.withUnsafeBufferPointer { curSpills in
                            stackSubsumed(curSlots, curSpills, by: oldSlots, oldSpills, precise: precision.stack[f], ids: &ids)
                        }
                    }
                }
            }
            if !alike { return false }
        }
        return true
    }

    /// One frame's stack: every byte the old state had written holds a value it covers.
    private static func stackSubsumed(
        _ cs: UnsafeBufferPointer<Frame.Slot>, _ cspills: UnsafeBufferPointer<Register>,
        by os: UnsafeBufferPointer<Frame.Slot>, _ ospills: UnsafeBufferPointer<Register>,
        precise: UInt64, ids: inout IDMap
    ) -> Bool {
        // Most stacks hold the same kinds of bytes in both states: then only spills differ.
        if os.baseAddress == cs.baseAddress || memcmp(os.baseAddress!, cs.baseAddress!, os.count) == 0 {
            for slot in 0..<ospills.count where os[slot * 8] == .spill {
                if !registerSubsumed(ospills[slot], cspills[slot], precise: precise & 1 << UInt64(slot) != 0, &ids) { return false }
            }
            return true
        }
        for b in 0..<BPFLimits.stackSize {
            let o = os[b], c = cs[b]
            if o == .invalid { continue }
            let slot = b / 8
            if precise & 1 << UInt64(slot) == 0 {
                // A number nothing relied on: any number will do, spilled or in bytes.
                let oldNumber = o != .spill || ospills[slot].isScalar
                let curNumber = c == .misc || c == .zero || (c == .spill && cspills[slot].isScalar)
                if oldNumber {
                    if curNumber { continue }
                    return false
                }
            }
            switch o {
            case .invalid: continue
            case .misc:
                if c == .misc || c == .zero { continue }
                if c == .spill, cspills[slot].isScalar { continue }
                return false
            case .zero:
                if c == .zero { continue }
                if c == .spill, cspills[slot].isScalar, cspills[slot].value.constantValue == 0 { continue }
                return false
            case .spill:
                guard c == .spill else {
                    // An old spilled scalar is matched by plain bytes only when it was unknown.
                    let spilled = ospills[slot]
                    if spilled.isScalar, spilled.value == .unknown, spilled.id == 0, c == .misc || c == .zero { continue }
                    return false
                }
                if b % 8 == 0 || os[b - 1] != .spill {
                    if !registerSubsumed(ospills[slot], cspills[slot], precise: precise & 1 << UInt64(slot) != 0, &ids) { return false }
                }
            }
        }
        return true
    }

    private static func registerSubsumed(_ old: Register, _ cur: Register, precise: Bool, _ ids: inout IDMap) -> Bool {
        if old.kind == .notInit { return true }
        guard old.kind == cur.kind else { return false }
        if old.kind == .scalar {
            guard precise else { return true }
            guard old.value.contains(cur.value) else { return false }
            return old.id == 0 || ids.match(old.id, cur.id)
        }
        guard old.maybeNull == cur.maybeNull, old.offset == cur.offset, old.map == cur.map, old.frame == cur.frame, old.btfType == cur.btfType,
            old.trust == cur.trust,
            old.value.contains(cur.value)
        else { return false }
        switch old.kind {
        case .packet, .packetMeta:
            guard old.range <= cur.range else { return false }
        case .memory:
            guard old.range == cur.range else { return false }
        default: break
        }
        if old.maybeNull || old.kind == .packet || old.kind == .packetMeta { guard ids.match(old.id, cur.id) else { return false } }
        return ids.match(old.referenceID, cur.referenceID)
    }
}

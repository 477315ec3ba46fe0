import BPFCore

/// One call frame's registers and stack. The stack is tracked a byte at a time; an aligned
/// 8-byte store of a register keeps the register itself (a "spill"), so a pointer saved on the
/// stack is still a pointer when it is loaded back.
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

    package var registers = [Register](repeating: .uninitialized, count: 11)
    /// Slot kinds of the 512 stack bytes; index 0 is `fp-512`.
    package var slots = [Slot](repeating: .invalid, count: BPFLimits.stackSize)
    package init() {}

    /// The register spilled into each 8-byte slot (index 0 is `fp-512`), when its bytes say so.
    package var spills = [Register](repeating: .uninitialized, count: BPFLimits.stackSize / 8)
    /// The instruction that called into this frame (-1 for the program's own frame).
    package var callSite = -1
    /// Index of the subprogram running in this frame.
    package var subprogram = 0

    /// The stack byte at `offset` from the frame pointer (negative).
    static func byteIndex(_ offset: Int64) -> Int { Int(offset) + BPFLimits.stackSize }

    /// Forgets a spill that a partial write breaks: its bytes keep what they were as scalars.
    mutating func scrubSpill(at slot: Int) {
        guard spills[slot].kind != .notInit else { return }
        let constantZero = spills[slot].value.constantValue == 0 && spills[slot].isScalar
        for b in slot * 8..<slot * 8 + 8 where slots[b] == .spill { slots[b] = constantZero ? .zero : .misc }
        spills[slot] = .uninitialized
    }
}

/// The verifier's state on one path: the call frames (innermost last) and the references the
/// program holds.
struct VerifierState: Hashable, Sendable {
    var frames = [Frame()]
    /// Acquired references (ring buffer records): id and the instruction that acquired it.
    var references: [Reference] = []

    struct Reference: Hashable, Sendable {
        var id: UInt32
        var instruction: Int
    }

    var current: Frame {
        get { frames[frames.count - 1] }
        _modify { yield &frames[frames.count - 1] }
    }

    subscript(register r: Int) -> Register {
        get { frames[frames.count - 1].registers[r] }
        set { frames[frames.count - 1].registers[r] = newValue }
    }

    /// Applies `update` to every register and spilled register, in every frame, that `matches`.
    mutating func updateAll(where matches: (Register) -> Bool, _ update: (inout Register) -> Void) {
        for f in frames.indices {
            for r in 0..<11 where matches(frames[f].registers[r]) { update(&frames[f].registers[r]) }
            for s in frames[f].spills.indices where frames[f].spills[s].kind != .notInit && matches(frames[f].spills[s]) {
                update(&frames[f].spills[s])
            }
        }
    }
}

// MARK: - Pruning

/// Which register ids of an explored state correspond to which of the current one: two states
/// are only alike if their ids pair up one to one.
struct IDMap {
    /// Pairs (old id, current id), in caller-provided scratch memory: no allocation per check.
    private let pairs: UnsafeMutableBufferPointer<(UInt32, UInt32)>
    private var count = 0

    init(scratch: UnsafeMutableBufferPointer<(UInt32, UInt32)>) { pairs = scratch }

    mutating func match(_ old: UInt32, _ cur: UInt32) -> Bool {
        if old == 0 && cur == 0 { return true }
        if old == 0 || cur == 0 { return false }
        for i in 0..<count {
            let (o, c) = pairs[i]
            if o == old || c == cur { return o == old && c == cur }
        }
        guard count < pairs.count else { return false }  // too many ids to pair: not alike
        pairs[count] = (old, cur)
        count += 1
        return true
    }
}

extension VerifierState {
    /// Whether every execution from `self` is also an execution from `old`, for the registers
    /// live at this point — so a fully verified `old` proves `self` safe too.
    func isSubsumed(by old: VerifierState, live: [UInt16]) -> Bool {
        guard frames.count == old.frames.count, references.count == old.references.count else { return false }
        return withUnsafeTemporaryAllocation(of: (UInt32, UInt32).self, capacity: 128) { scratch in
            var ids = IDMap(scratch: scratch)
            return isSubsumed(by: old, live: live, ids: &ids)
        }
    }

    private func isSubsumed(by old: VerifierState, live: [UInt16], ids: inout IDMap) -> Bool {
        for (o, c) in zip(old.references, references) where !ids.match(o.id, c.id) { return false }
        // Registers first, innermost frame first: where states differ most often.
        for f in frames.indices.reversed() {
            let liveMask = live[f]
            let alike = old.frames[f].registers.withUnsafeBufferPointer { o in
                frames[f].registers.withUnsafeBufferPointer { c in
                    for r in 0..<11 where liveMask & (1 << r) != 0 {
                        if !Self.registerSubsumed(o[r], c[r], &ids) { return false }
                    }
                    return true
                }
            }
            if !alike { return false }
        }
        for f in frames.indices {
            let of = old.frames[f], cf = frames[f]
            guard of.callSite == cf.callSite else { return false }
            // Most stacks are shared, unchanged, between the two states: then they agree.
            // (Equal spills still pair their ids with the registers'.)
            if of.slots == cf.slots, of.spills == cf.spills {
                for spill in cf.spills where spill.id != 0 || spill.referenceID != 0 {
                    if !ids.match(spill.id, spill.id) || !ids.match(spill.referenceID, spill.referenceID) { return false }
                }
                continue
            }
            for b in 0..<BPFLimits.stackSize {
                let os = of.slots[b], cs = cf.slots[b]
                switch os {
                case .invalid: continue
                case .misc:
                    if cs == .misc || cs == .zero { continue }
                    if cs == .spill, cf.spills[b / 8].isScalar { continue }
                    return false
                case .zero:
                    if cs == .zero { continue }
                    if cs == .spill, cf.spills[b / 8].isScalar, cf.spills[b / 8].value.constantValue == 0 { continue }
                    return false
                case .spill:
                    guard cs == .spill else {
                        // An old spilled scalar is matched by plain bytes only when it was unknown.
                        let spilled = of.spills[b / 8]
                        if spilled.isScalar, spilled.value == .unknown, spilled.id == 0, cs == .misc || cs == .zero { continue }
                        return false
                    }
                    if b % 8 == 0 || of.slots[b - 1] != .spill {
                        if !Self.registerSubsumed(of.spills[b / 8], cf.spills[b / 8], &ids) { return false }
                    }
                }
            }
        }
        return true
    }

    private static func registerSubsumed(_ old: Register, _ cur: Register, _ ids: inout IDMap) -> Bool {
        if old.kind == .notInit { return true }
        guard old.kind == cur.kind else { return false }
        if old.kind == .scalar {
            guard old.value.contains(cur.value) else { return false }
            return old.id == 0 || ids.match(old.id, cur.id)
        }
        guard old.maybeNull == cur.maybeNull, old.offset == cur.offset, old.map == cur.map, old.frame == cur.frame,
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

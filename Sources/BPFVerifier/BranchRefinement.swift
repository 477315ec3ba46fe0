import BPFCore

/// A comparison a conditional jump makes, read as "the jump is taken".
enum Condition: Sendable {
    case eq, ne, ugt, uge, ult, ule, sgt, sge, slt, sle, set, notSet

    init?(_ op: JumpOp) {
        switch op {
        case .jeq: self = .eq
        case .jne: self = .ne
        case .jgt: self = .ugt
        case .jge: self = .uge
        case .jlt: self = .ult
        case .jle: self = .ule
        case .jsgt: self = .sgt
        case .jsge: self = .sge
        case .jslt: self = .slt
        case .jsle: self = .sle
        case .jset: self = .set
        default: return nil
        }
    }

    /// The condition of the fall-through path.
    var negated: Condition {
        switch self {
        case .eq: .ne
        case .ne: .eq
        case .ugt: .ule
        case .uge: .ult
        case .ult: .uge
        case .ule: .ugt
        case .sgt: .sle
        case .sge: .slt
        case .slt: .sge
        case .sle: .sgt
        case .set: .notSet
        case .notSet: .set
        }
    }

    /// The same comparison with its operands exchanged (`a < b` is `b > a`).
    var swapped: Condition {
        switch self {
        case .ugt: .ult
        case .uge: .ule
        case .ult: .ugt
        case .ule: .uge
        case .sgt: .slt
        case .sge: .sle
        case .slt: .sgt
        case .sle: .sge
        default: self
        }
    }

    var isSigned: Bool { [.sgt, .sge, .slt, .sle].contains(self) }
}

extension ScalarBounds {
    /// What `a` and `b` are known to be on a path where `a cond b` holds (64-bit compare), or
    /// nil when no values of theirs satisfy it — the path cannot happen. `asKernel` learns no
    /// more than the kernel's `regs_refine_cond_op` does.
    static func refine(_ a: ScalarBounds, _ b: ScalarBounds, _ cond: Condition, asKernel: Bool = false) -> (ScalarBounds, ScalarBounds)? {
        var a = a, b = b
        switch cond {
        case .eq:
            let known = ~(a.tnum.mask | b.tnum.mask)
            if (a.tnum.value ^ b.tnum.value) & known != 0 { return nil }
            a.umin = max(a.umin, b.umin)
            a.umax = min(a.umax, b.umax)
            a.smin = max(a.smin, b.smin)
            a.smax = min(a.smax, b.smax)
            a.s32min = max(a.s32min, b.s32min)
            a.s32max = min(a.s32max, b.s32max)
            a.u32min = max(a.u32min, b.u32min)
            a.u32max = min(a.u32max, b.u32max)
            a.tnum = a.tnum.intersect(b.tnum)
            b = a
        case .ne:
            if let c = b.constantValue { a.excludeEdge(c) }
            if let c = a.constantValue { b.excludeEdge(c) }
            if let x = a.constantValue, x == b.constantValue { return nil }
        case .ult:
            guard b.umax > 0, a.umin < .max else { return nil }
            a.umax = min(a.umax, b.umax - 1)
            b.umin = max(b.umin, a.umin + 1)
        case .ule:
            a.umax = min(a.umax, b.umax)
            b.umin = max(b.umin, a.umin)
        case .slt:
            guard b.smax > .min, a.smin < .max else { return nil }
            a.smax = min(a.smax, b.smax - 1)
            b.smin = max(b.smin, a.smin + 1)
        case .sle:
            a.smax = min(a.smax, b.smax)
            b.smin = max(b.smin, a.smin)
        case .ugt, .uge, .sgt, .sge:
            guard let (nb, na) = refine(b, a, cond.swapped, asKernel: asKernel) else { return nil }
            return (na, nb)
        case .set:
            if (a.tnum.value | a.tnum.mask) & (b.tnum.value | b.tnum.mask) == 0 { return nil }
            if let c = b.constantValue, c.nonzeroBitCount == 1 { a.tnum = Tnum(value: a.tnum.value | c, mask: a.tnum.mask & ~c) }
            if let c = a.constantValue, c.nonzeroBitCount == 1 { b.tnum = Tnum(value: b.tnum.value | c, mask: b.tnum.mask & ~c) }
            // Some bit is set in both, so neither is 0 (the kernel learns only the bit of a
            // single-bit constant).
            if !asKernel, a.umin == 0 { a.umin = 1 }
            if !asKernel, b.umin == 0 { b.umin = 1 }
        case .notSet where asKernel:
            // No bit of the constant is set: the kernel forgets the other's ranges and keeps
            // its known bits, those cleared (regs_refine_cond_op, JSET | X).
            if let c = b.constantValue { a = .knownBits(a.tnum & .constant(~c)) } else if let c = a.constantValue { b = .knownBits(b.tnum & .constant(~c)) }
        case .notSet:
            if let c = b.constantValue {
                if a.tnum.value & c != 0 { return nil }
                a.tnum = Tnum(value: a.tnum.value, mask: a.tnum.mask & ~c)
            } else if let c = a.constantValue {
                if b.tnum.value & c != 0 { return nil }
                b.tnum = Tnum(value: b.tnum.value, mask: b.tnum.mask & ~c)
            } else if a.tnum.value & b.tnum.value != 0 {
                return nil
            }
        }
        a.synchronize()
        b.synchronize()
        if a.isEmpty || b.isEmpty { return nil }
        return (a, b)
    }

    /// The same for a 32-bit compare (`jmp32`): only the low halves are compared, and only
    /// what is known of them narrows.
    static func refine32(_ a: ScalarBounds, _ b: ScalarBounds, _ cond: Condition, asKernel: Bool = false) -> (ScalarBounds, ScalarBounds)? {
        if asKernel, cond == .notSet {
            // As in 64 bits, on the low halves: ranges forgotten, the constant's bits cleared.
            var a = a, b = b
            func cleared(_ t: Tnum, _ c: UInt64) -> ScalarBounds { .knownBits(t.withLow32(t.truncated(toBytes: 4) & .constant(~c))) }
            if let c = b.low32.constantValue { a = cleared(a.tnum, c) } else if let c = a.low32.constantValue { b = cleared(b.tnum, c) }
            return a.isEmpty || b.isEmpty ? nil : (a, b)
        }
        let signed = cond.isSigned
        let va = signed ? a.signedLow32 : a.low32, vb = signed ? b.signedLow32 : b.low32
        guard let (ra, rb) = refine(va, vb, cond, asKernel: asKernel) else { return nil }
        var a = a, b = b
        a.narrowLow32(by: ra, signed: signed)
        b.narrowLow32(by: rb, signed: signed)
        if a.isEmpty || b.isEmpty { return nil }
        return (a, b)
    }

    /// Narrows the low half by a refined view of it (zero- or sign-extended).
    private mutating func narrowLow32(by view: ScalarBounds, signed: Bool) {
        if signed {
            s32min = max(s32min, Int32(clamping: view.smin))
            s32max = min(s32max, Int32(clamping: view.smax))
        } else {
            u32min = max(u32min, UInt32(clamping: view.umin))
            u32max = min(u32max, UInt32(clamping: view.umax))
        }
        let known = ~(tnum.mask | view.tnum.mask) & 0xffff_ffff
        if (tnum.value ^ view.tnum.value) & known != 0 {
            u32min = 1
            u32max = 0  // contradiction: empty
            return
        }
        tnum = tnum.withLow32(tnum.truncated(toBytes: 4).intersect(view.tnum.truncated(toBytes: 4)))
        synchronize()
    }

    /// Drops `c` from the range when it is one of the range's ends.
    private mutating func excludeEdge(_ c: UInt64) {
        if umin == c, umin < umax { umin += 1 }
        if umax == c, umin < umax { umax -= 1 }
        let s = Int64(bitPattern: c)
        if smin == s, smin < smax { smin += 1 }
        if smax == s, smin < smax { smax -= 1 }
        let c32 = UInt32(truncatingIfNeeded: c)
        if umin >> 32 == umax >> 32 && umin >> 32 == c >> 32 {
            if u32min == c32, u32min < u32max { u32min += 1 }
            if u32max == c32, u32min < u32max { u32max -= 1 }
        }
    }
}

extension ScalarBounds {
    /// Whether `a cond b` is decided, by the kernel's own rules (`is_scalar_branch_taken`):
    /// only from the two values' ranges and known bits, never from a contradiction found by
    /// narrowing. nil: both sides may happen, and the kernel explores both.
    static func kernelBranchTaken(_ a: ScalarBounds, _ b: ScalarBounds, _ cond: Condition, is32: Bool) -> Bool? {
        let t1 = is32 ? a.tnum.truncated(toBytes: 4) : a.tnum, t2 = is32 ? b.tnum.truncated(toBytes: 4) : b.tnum
        let umin1 = is32 ? UInt64(a.u32min) : a.umin, umax1 = is32 ? UInt64(a.u32max) : a.umax
        let smin1 = is32 ? Int64(a.s32min) : a.smin, smax1 = is32 ? Int64(a.s32max) : a.smax
        let umin2 = is32 ? UInt64(b.u32min) : b.umin, umax2 = is32 ? UInt64(b.u32max) : b.umax
        let smin2 = is32 ? Int64(b.s32min) : b.smin, smax2 = is32 ? Int64(b.s32max) : b.smax
        func overlap() -> Bool {
            let known = ~t1.mask & ~t2.mask
            return t1.value & known == t2.value & known
        }
        switch cond {
        case .eq, .ne:
            let equal = cond == .eq
            if t1.isConstant && t2.isConstant { return (t1.value == t2.value) == equal }
            if !overlap() || umin1 > umax2 || umax1 < umin2 || smin1 > smax2 || smax1 < smin2 { return !equal }
            if !is32, a.u32min > b.u32max || a.u32max < b.u32min || a.s32min > b.s32max || a.s32max < b.s32min { return !equal }
            return nil
        case .set, .notSet:
            var (x, y) = (t1, t2)
            if !y.isConstant { swap(&x, &y) }
            guard y.isConstant else { return nil }
            let set: Bool? = (~x.mask & x.value) & y.value != 0 ? true : ((x.mask | x.value) & y.value == 0 ? false : nil)
            return set.map { cond == .set ? $0 : !$0 }
        case .ugt: return umin1 > umax2 ? true : umax1 <= umin2 ? false : nil
        case .sgt: return smin1 > smax2 ? true : smax1 <= smin2 ? false : nil
        case .ult: return umax1 < umin2 ? true : umin1 >= umax2 ? false : nil
        case .slt: return smax1 < smin2 ? true : smin1 >= smax2 ? false : nil
        case .uge: return umin1 >= umax2 ? true : umax1 < umin2 ? false : nil
        case .sge: return smin1 >= smax2 ? true : smax1 < smin2 ? false : nil
        case .ule: return umax1 <= umin2 ? true : umin1 > umax2 ? false : nil
        case .sle: return smax1 <= smin2 ? true : smin1 > smax2 ? false : nil
        }
    }
}

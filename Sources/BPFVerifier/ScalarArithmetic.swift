import BPFCore

/// Arithmetic on ``ScalarBounds``: what is known of `a op b` given what is known of `a` and `b`,
/// for the 64-bit ALU. The 32-bit ALU runs the same on the operands' low halves and keeps the
/// low half of the result.
extension ScalarBounds {
    /// The result of `op` (`signed` for `sdiv`/`smod`), computed exactly when both operands
    /// are known and soundly over-approximated otherwise.
    static func apply(_ op: ALUOp, _ a: ScalarBounds, _ b: ScalarBounds, is64: Bool, signed: Bool = false) -> ScalarBounds {
        let a = is64 ? a : (op == .arsh || signed ? a.signedLow32 : a.low32)
        let b = is64 ? b : (signed ? b.signedLow32 : b.low32)
        var result: ScalarBounds
        if let x = a.constantValue, let y = b.constantValue {
            result = .constant(evaluate(op, x, y, is64: is64, signed: signed))
        } else if signed {
            result = .unknown  // signed division and modulo of unknown values: not tracked
        } else {
            result = approximate(op, a, b, bits: is64 ? 64 : 32)
        }
        return is64 ? result : result.low32
    }

    /// The exact result of one ALU operation on known values, with the ISA's rules for division
    /// by zero and for shifts (the count masked to the width).
    static func evaluate(_ op: ALUOp, _ x: UInt64, _ y: UInt64, is64: Bool, signed: Bool) -> UInt64 {
        let width: UInt64 = is64 ? 64 : 32
        let x = is64 ? x : x & 0xffff_ffff, y = is64 ? y : y & 0xffff_ffff
        func sx(_ v: UInt64) -> Int64 { is64 ? Int64(bitPattern: v) : Int64(Int32(truncatingIfNeeded: v)) }
        let r: UInt64
        switch op {
        case .add: r = x &+ y
        case .sub: r = x &- y
        case .mul: r = x &* y
        case .div:
            if y == 0 { r = 0 } else if signed { r = sx(y) == -1 ? 0 &- x : UInt64(bitPattern: sx(x) / sx(y)) } else { r = x / y }
        case .mod:
            if y == 0 { r = x } else if signed { r = sx(y) == -1 ? 0 : UInt64(bitPattern: sx(x) % sx(y)) } else { r = x % y }
        case .or: r = x | y
        case .and: r = x & y
        case .xor: r = x ^ y
        case .lsh: r = x << (y & (width - 1))
        case .rsh: r = x >> (y & (width - 1))
        case .arsh: r = UInt64(bitPattern: sx(x) >> (y & (width - 1)))
        case .mov: r = y
        case .neg: r = 0 &- x
        case .end: r = x
        }
        return is64 ? r : r & 0xffff_ffff
    }

    private static func approximate(_ op: ALUOp, _ a: ScalarBounds, _ b: ScalarBounds, bits: Int) -> ScalarBounds {
        var r = ScalarBounds()
        switch op {
        case .add:
            let (lo, o1) = a.smin.addingReportingOverflow(b.smin), (hi, o2) = a.smax.addingReportingOverflow(b.smax)
            if !o1 && !o2 { r.smin = lo; r.smax = hi }
            let (ulo, o3) = a.umin.addingReportingOverflow(b.umin), (uhi, o4) = a.umax.addingReportingOverflow(b.umax)
            if !o3 && !o4 { r.umin = ulo; r.umax = uhi }
            r.tnum = a.tnum + b.tnum
        case .sub:
            let (lo, o1) = a.smin.subtractingReportingOverflow(b.smax), (hi, o2) = a.smax.subtractingReportingOverflow(b.smin)
            if !o1 && !o2 { r.smin = lo; r.smax = hi }
            if a.umin >= b.umax { r.umin = a.umin - b.umax; r.umax = a.umax - b.umin }
            r.tnum = a.tnum - b.tnum
        case .mul:
            if a.smin >= 0, b.smin >= 0, a.umax <= UInt64(UInt32.max), b.umax <= UInt64(UInt32.max) {
                r.umin = a.umin * b.umin
                r.umax = a.umax * b.umax
            }
            r.tnum = a.tnum * b.tnum
        case .and:
            r.tnum = a.tnum & b.tnum
            r.umax = min(a.umax, b.umax)
            if a.smin >= 0 || b.smin >= 0 { r.smin = 0 }
        case .or:
            r.tnum = a.tnum | b.tnum
            r.umin = max(a.umin, b.umin)
        case .xor:
            r.tnum = a.tnum ^ b.tnum
        case .lsh, .rsh, .arsh:
            // Only shifts by a known count are tracked, as the kernel does.
            guard let count = b.constantValue, count < UInt64(bits) else { break }
            switch op {
            case .lsh:
                if a.umax <= UInt64.max >> count { r.umin = a.umin << count; r.umax = a.umax << count }
                r.tnum = a.tnum << count
            case .rsh:
                r.umin = a.umin >> count
                r.umax = a.umax >> count
                r.tnum = a.tnum >> count
            default:
                r.smin = a.smin >> count
                r.smax = a.smax >> count
                r.tnum = a.tnum.arithmeticShiftRight(count, bits: 64)
            }
        case .div:
            // Unsigned division by a known non-zero divisor narrows; anything else is unknown.
            if let d = b.constantValue, d != 0 {
                r.umin = a.umin / d
                r.umax = a.umax / d
            }
        case .mod:
            if let d = b.constantValue, d != 0 { r.umax = min(a.umax, d - 1) }
        case .neg:
            return approximate(.sub, .constant(0), a, bits: bits)
        case .mov, .end:
            r = b
        }
        r.synchronize()
        return r
    }
}

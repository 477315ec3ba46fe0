/// What the verifier knows of a 64-bit number: signed and unsigned ranges of the whole value
/// and of its low 32 bits, and its known bits. Every operation keeps the five views consistent
/// (``synchronize()``), each narrowing the others, as the kernel's `reg_bounds_sync` does.
package struct ScalarBounds: Hashable, Sendable {
    var smin = Int64.min, smax = Int64.max
    var umin = UInt64.min, umax = UInt64.max
    var s32min = Int32.min, s32max = Int32.max
    var u32min = UInt32.min, u32max = UInt32.max
    var tnum = Tnum.unknown

    package static let unknown = ScalarBounds()

    package static func constant(_ v: UInt64) -> ScalarBounds {
        // Every view is the value itself (what `synchronize` would find, without its work).
        let low = UInt32(truncatingIfNeeded: v)
        return ScalarBounds(
            smin: Int64(bitPattern: v), smax: Int64(bitPattern: v), umin: v, umax: v,
            s32min: Int32(bitPattern: low), s32max: Int32(bitPattern: low), u32min: low, u32max: low,
            tnum: .constant(v))
    }

    /// Any value with these known bits, the ranges derived from them alone.
    static func knownBits(_ tnum: Tnum) -> ScalarBounds {
        var b = ScalarBounds()
        b.tnum = tnum
        b.synchronize()
        return b
    }

    /// Any value in `min...max` (unsigned).
    /// Any number whose low 32 bits, signed, are in `range` (`__mark_reg_s32_range`).
    static func int32(in range: ClosedRange<Int32>) -> ScalarBounds {
        var b = ScalarBounds.unknown
        b.s32min = range.lowerBound
        b.s32max = range.upperBound
        b.synchronize()
        return b
    }

    package static func unsignedRange(_ min: UInt64, _ max: UInt64) -> ScalarBounds {
        var b = ScalarBounds()
        b.umin = min
        b.umax = max
        b.synchronize()
        return b
    }

    /// Any value in `min...max` (signed).
    package static func signedRange(_ min: Int64, _ max: Int64) -> ScalarBounds {
        var b = ScalarBounds()
        b.smin = min
        b.smax = max
        b.synchronize()
        return b
    }

    var isConstant: Bool { tnum.isConstant }
    var constantValue: UInt64? { tnum.isConstant ? tnum.value : nil }

    /// Whether no number satisfies every view (a path that cannot happen).
    package var isEmpty: Bool {
        smin > smax || umin > umax || s32min > s32max || u32min > u32max
            || tnum.value & ~tnum.mask != tnum.value
    }

    /// Whether every value `other` allows, `self` allows too.
    func contains(_ other: ScalarBounds) -> Bool {
        smin <= other.smin && other.smax <= smax && umin <= other.umin && other.umax <= umax
            && s32min <= other.s32min && other.s32max <= s32max && u32min <= other.u32min && other.u32max <= u32max
            && tnum.contains(other.tnum)
    }

    /// Narrows every view by what the others say.
    mutating func synchronize() {
        boundsFromTnum()
        deduceBounds()
        tnumFromBounds()
        boundsFromTnum()
        deduceBounds()
    }

    private mutating func boundsFromTnum() {
        let v32 = UInt32(truncatingIfNeeded: tnum.value), m32 = UInt32(truncatingIfNeeded: tnum.mask)
        s32min = max(s32min, Int32(bitPattern: v32 | (m32 & 0x8000_0000)))
        s32max = min(s32max, Int32(bitPattern: v32 | (m32 & 0x7fff_ffff)))
        u32min = max(u32min, v32)
        u32max = min(u32max, v32 | m32)
        let sign: UInt64 = 1 << 63
        smin = max(smin, Int64(bitPattern: tnum.value | (tnum.mask & sign)))
        smax = min(smax, Int64(bitPattern: tnum.value | (tnum.mask & ~sign)))
        umin = max(umin, tnum.value)
        umax = min(umax, tnum.value | tnum.mask)
    }

    private mutating func deduceBounds() {
        // Low 32 bits from the 64-bit ranges, when those stay inside one 2^32 block.
        narrowLow32(umin, umax)
        narrowLow32(UInt64(bitPattern: smin), UInt64(bitPattern: smax))
        // Signed and unsigned 32-bit ranges from each other, when they do not cross a sign
        // boundary.
        if Int32(bitPattern: u32min) <= Int32(bitPattern: u32max) {
            s32min = max(s32min, Int32(bitPattern: u32min))
            s32max = min(s32max, Int32(bitPattern: u32max))
        }
        if UInt32(bitPattern: s32min) <= UInt32(bitPattern: s32max) {
            u32min = max(u32min, UInt32(bitPattern: s32min))
            u32max = min(u32max, UInt32(bitPattern: s32max))
        }
        // The same for 64 bits.
        if Int64(bitPattern: umin) <= Int64(bitPattern: umax) {
            smin = max(smin, Int64(bitPattern: umin))
            smax = min(smax, Int64(bitPattern: umax))
        }
        if UInt64(bitPattern: smin) <= UInt64(bitPattern: smax) {
            umin = max(umin, UInt64(bitPattern: smin))
            umax = min(umax, UInt64(bitPattern: smax))
        }
        // 64-bit ranges from the 32-bit ones: the upper bits of the bounds stay, the lower
        // ones tighten.
        let high: UInt64 = ~0xffff_ffff
        umin = max(umin, (umin & high) | UInt64(u32min))
        umax = min(umax, (umax & high) | UInt64(u32max))
        smin = max(smin, Int64(bitPattern: (UInt64(bitPattern: smin) & high) | UInt64(u32min)))
        smax = min(smax, Int64(bitPattern: (UInt64(bitPattern: smax) & high) | UInt64(u32max)))
    }

    /// Narrows the 32-bit ranges by a 64-bit range `lo...hi` (bit patterns, signed or unsigned
    /// order) whose ends share their upper 32 bits: its low halves bound the low 32 bits.
    private mutating func narrowLow32(_ lo: UInt64, _ hi: UInt64) {
        guard lo >> 32 == hi >> 32 else { return }
        if UInt32(truncatingIfNeeded: lo) <= UInt32(truncatingIfNeeded: hi) {
            u32min = max(u32min, UInt32(truncatingIfNeeded: lo))
            u32max = min(u32max, UInt32(truncatingIfNeeded: hi))
        }
        if Int32(truncatingIfNeeded: lo) <= Int32(truncatingIfNeeded: hi) {
            s32min = max(s32min, Int32(truncatingIfNeeded: lo))
            s32max = min(s32max, Int32(truncatingIfNeeded: hi))
        }
    }

    private mutating func tnumFromBounds() {
        guard umin <= umax, u32min <= u32max else { return }
        let wide = tnum.intersect(.range(umin, umax))
        let low = tnum.truncated(toBytes: 4).intersect(.range(UInt64(u32min), UInt64(u32max)))
        tnum = wide.withLow32(low)
    }

    // MARK: - 32-bit views

    /// The low 32 bits as a number of their own, zero-extended: what a 32-bit operand is, and
    /// what every 32-bit ALU result becomes.
    var low32: ScalarBounds {
        if let v = constantValue { return .constant(v & 0xffff_ffff) }
        var b = ScalarBounds()
        b.umin = UInt64(u32min)
        b.umax = UInt64(u32max)
        b.tnum = tnum.truncated(toBytes: 4)
        b.synchronize()
        return b
    }

    /// The low 32 bits, sign-extended.
    var signedLow32: ScalarBounds {
        if let v = constantValue { return .constant(UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: v)))) }
        var b = ScalarBounds()
        b.smin = Int64(s32min)
        b.smax = Int64(s32max)
        b.tnum = tnum.signExtended(fromBytes: 4)
        b.synchronize()
        return b
    }
}

extension ScalarBounds: CustomStringConvertible {
    /// The kernel's rendering: the constant, or the bounds that say something.
    package var description: String {
        if let v = constantValue { return Self.signed(Int64(bitPattern: v)) }
        // print_scalar_ranges: each bound not at its limit; later bounds of the same value (and
        // sign) joined to the first with '=' (`smax=umax=smax32=umax32=255`).
        var bounds: [(name: String, value: UInt64, signed: Bool, omit: Bool)] = [
            ("smin", UInt64(bitPattern: smin), true, smin == .min), ("smax", UInt64(bitPattern: smax), true, smax == .max),
            ("umin", umin, false, umin == 0), ("umax", umax, false, umax == .max),
            ("smin32", Self.value32(s32min), true, s32min == .min), ("smax32", Self.value32(s32max), true, s32max == .max),
            ("umin32", UInt64(u32min), false, u32min == 0), ("umax32", UInt64(u32max), false, u32max == .max),
        ]
        var parts: [String] = []
        for i in bounds.indices where !bounds[i].omit {
            let first = bounds[i]
            let negative = first.signed && Int64(bitPattern: first.value) < 0
            var names = [first.name]
            for j in stride(from: i + 2, to: bounds.count, by: 2) where !bounds[j].omit && bounds[j].value == first.value {
                guard (bounds[j].signed && Int64(bitPattern: bounds[j].value) < 0) == negative else { continue }
                bounds[j].omit = true
                names.append(bounds[j].name)
            }
            let value = first.signed ? Self.signed(Int64(bitPattern: first.value)) : Self.unsigned(first.value)
            parts.append(names.joined(separator: "=") + "=" + value)
        }
        if tnum.mask != .max { parts.append("var_off=\(tnum)") }
        return parts.joined(separator: ",")
    }

    /// A 32-bit signed bound as the kernel prints it: negative small ones as numbers, others as
    /// their unsigned 32-bit pattern.
    private static func value32(_ v: Int32) -> UInt64 {
        v >= -512 && v <= 512 ? UInt64(bitPattern: Int64(v)) : UInt64(UInt32(bitPattern: v))
    }

    /// verbose_snum and verbose_unum: decimal up to 512 in magnitude, hexadecimal beyond.
    private static func signed(_ v: Int64) -> String {
        v >= -512 && v <= 512 ? String(v) : "0x" + String(UInt64(bitPattern: v), radix: 16)
    }

    private static func unsigned(_ v: UInt64) -> String { v <= 512 ? String(v) : "0x" + String(v, radix: 16) }
}

extension ScalarBounds {
    /// The numbers inside both the signed and the unsigned range.
    package static func bounded(smin: Int64 = .min, smax: Int64 = .max, umin: UInt64 = 0, umax: UInt64 = .max) -> ScalarBounds {
        var b = ScalarBounds()
        b.smin = smin
        b.smax = smax
        b.umin = umin
        b.umax = umax
        b.synchronize()
        return b
    }
}

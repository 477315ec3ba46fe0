/// A "tracked number": what is known of a 64-bit value bit by bit, as the kernel's verifier
/// keeps it. A bit whose `mask` bit is 0 is known and equal to the `value` bit; a bit whose
/// `mask` bit is 1 is unknown (and its `value` bit is 0).
package struct Tnum: Hashable, Sendable {
    var value: UInt64
    var mask: UInt64

    init(value: UInt64, mask: UInt64) {
        self.value = value & ~mask
        self.mask = mask
    }

    static let unknown = Tnum(value: 0, mask: .max)
    static func constant(_ v: UInt64) -> Tnum { Tnum(value: v, mask: 0) }

    /// The smallest tnum holding every value in `min...max`.
    static func range(_ min: UInt64, _ max: UInt64) -> Tnum {
        let chi = min ^ max
        let bits = 64 - chi.leadingZeroBitCount
        if bits > 63 { return .unknown }
        let delta = (UInt64(1) << bits) - 1
        return Tnum(value: min & ~delta, mask: delta)
    }

    var isConstant: Bool { mask == 0 }
    /// Whether every value this tnum allows is a multiple of `size` (a power of two).
    func isAligned(_ size: UInt64) -> Bool { (value | mask) & (size - 1) == 0 }
    /// Whether every value of `other` is a value of `self`.
    func contains(_ other: Tnum) -> Bool {
        other.mask & ~mask == 0 && other.value & ~mask == value
    }

    static func + (a: Tnum, b: Tnum) -> Tnum {
        let sm = a.mask &+ b.mask, sv = a.value &+ b.value
        let chi = (sm &+ sv) ^ sv
        return Tnum(value: sv, mask: chi | a.mask | b.mask)
    }

    static func - (a: Tnum, b: Tnum) -> Tnum {
        let dv = a.value &- b.value
        let chi = (dv &+ a.mask) ^ (dv &- b.mask)
        return Tnum(value: dv, mask: chi | a.mask | b.mask)
    }

    static func & (a: Tnum, b: Tnum) -> Tnum {
        let v = a.value & b.value
        return Tnum(value: v, mask: (a.value | a.mask) & (b.value | b.mask) & ~v)
    }

    static func | (a: Tnum, b: Tnum) -> Tnum {
        let v = a.value | b.value
        return Tnum(value: v, mask: (a.mask | b.mask) & ~v)
    }

    static func ^ (a: Tnum, b: Tnum) -> Tnum {
        Tnum(value: a.value ^ b.value, mask: a.mask | b.mask)
    }

    /// Long multiplication, one bit of `a` at a time (each unknown bit adds an unknown partial
    /// product).
    static func * (a: Tnum, b: Tnum) -> Tnum {
        var a = a, b = b
        let product = Tnum.constant(a.value &* b.value)
        var partial = Tnum.constant(0)
        while a.value != 0 || a.mask != 0 {
            if a.value & 1 != 0 {
                partial = partial + Tnum(value: 0, mask: b.mask)
            } else if a.mask & 1 != 0 {
                partial = partial + Tnum(value: 0, mask: b.value | b.mask)
            }
            a = a >> 1
            b = b << 1
        }
        return product + partial
    }

    static func << (a: Tnum, shift: UInt64) -> Tnum { Tnum(value: a.value << shift, mask: a.mask << shift) }
    static func >> (a: Tnum, shift: UInt64) -> Tnum { Tnum(value: a.value >> shift, mask: a.mask >> shift) }

    /// Arithmetic right shift of the low `bits` (32 or 64) bits.
    func arithmeticShiftRight(_ shift: UInt64, bits: Int) -> Tnum {
        if bits == 32 {
            let v = UInt64(UInt32(bitPattern: Int32(truncatingIfNeeded: value) >> Int32(shift)))
            let m = UInt64(UInt32(bitPattern: Int32(truncatingIfNeeded: mask) >> Int32(shift)))
            return Tnum(value: v, mask: m)
        }
        return Tnum(value: UInt64(bitPattern: Int64(bitPattern: value) >> shift), mask: UInt64(bitPattern: Int64(bitPattern: mask) >> shift))
    }

    /// What both tnums say (each must hold for the value).
    func intersect(_ other: Tnum) -> Tnum {
        let mu = mask & other.mask
        return Tnum(value: value | other.value, mask: mu)
    }

    /// What either tnum allows.
    func union(_ other: Tnum) -> Tnum {
        let mu = mask | other.mask | (value ^ other.value)
        return Tnum(value: value, mask: mu)
    }

    /// The low `bytes` bytes, zero-extended.
    func truncated(toBytes bytes: Int) -> Tnum {
        if bytes >= 8 { return self }
        let keep = (UInt64(1) << (bytes * 8)) - 1
        return Tnum(value: value & keep, mask: mask & keep)
    }

    /// The low `bytes` bytes, sign-extended.
    func signExtended(fromBytes bytes: Int) -> Tnum {
        if bytes >= 8 { return self }
        let shift = UInt64(64 - bytes * 8)
        return Tnum(
            value: UInt64(bitPattern: Int64(bitPattern: value << shift) >> shift),
            mask: UInt64(bitPattern: Int64(bitPattern: mask << shift) >> shift))
    }

    /// The upper 32 bits of `self` with the low 32 bits of `low`.
    func withLow32(_ low: Tnum) -> Tnum {
        Tnum(value: (value & ~0xffff_ffff) | (low.value & 0xffff_ffff), mask: (mask & ~0xffff_ffff) | (low.mask & 0xffff_ffff))
    }
}

extension Tnum: CustomStringConvertible {
    package var description: String { "(0x\(String(value, radix: 16)); 0x\(String(mask, radix: 16)))" }
}

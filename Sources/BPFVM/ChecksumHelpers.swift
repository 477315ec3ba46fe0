import BPFCore
/// `bpf_csum_diff(from, from_size, to, to_size, seed)` as Linux 6.12 and later define it: the
/// partial checksum of `to` (seeded) minus that of `from`, folded to 16 bits, with x86-64's
/// `csum_partial` arithmetic. The sizes are not checked here: bounding them against the
/// program's memory is the verifier's job.
enum ChecksumHelpers {
    @inline(__always) static func addWithCarry(_ a: UInt32, _ b: UInt32) -> UInt32 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return sum &+ (overflow ? 1 : 0)
    }

    /// `csum_partial`: a ones'-complement sum of little-endian 64-bit words (the tail
    /// zero-padded) starting from `seed`, folded to 32 bits.
    static func partial(_ p: UnsafeRawPointer, _ length: Int, _ seed: UInt32) -> UInt32 {
        var sum = UInt64(seed)
        func add(_ word: UInt64) {
            let (s, overflow) = sum.addingReportingOverflow(word)
            sum = s &+ (overflow ? 1 : 0)
        }
        var at = 0
        while at + 8 <= length {
            add(p.loadUnaligned(fromByteOffset: at, as: UInt64.self))
            at += 8
        }
        if at < length {
            var tail: UInt64 = 0
            for k in 0..<(length - at) { tail |= UInt64(p.load(fromByteOffset: at + k, as: UInt8.self)) << (8 * k) }
            add(tail)
        }
        return addWithCarry(UInt32(sum >> 32), UInt32(truncatingIfNeeded: sum))
    }

    /// `csum_from32to16`.
    @inline(__always) static func fold(_ x: UInt32) -> UInt64 {
        var v = (x & 0xffff) + (x >> 16)
        v = (v & 0xffff) + (v >> 16)
        return UInt64(v)
    }

    static let csumDiff: HelperFunction = { from, fromSize, to, toSize, seed64, _ in
        let seed = UInt32(truncatingIfNeeded: seed64)
        let source = UnsafeRawPointer(bitPattern: UInt(from)), target = UnsafeRawPointer(bitPattern: UInt(to))
        switch (fromSize > 0 ? source : nil, toSize > 0 ? target : nil) {
        case let (f?, t?):
            return fold(addWithCarry(partial(t, Int(toSize), seed), ~partial(f, Int(fromSize), 0)))
        case let (nil, t?):
            return fold(partial(t, Int(toSize), seed))
        case let (f?, nil):
            return fold(~partial(f, Int(fromSize), ~seed))
        case (nil, nil):
            return fold(seed)  // the seed alone, folded like every other result
        }
    }
}

extension HelperTable {
    /// Adds `bpf_csum_diff` (28).
    public mutating func registerChecksumHelpers() {
        register(.csumDiff, ChecksumHelpers.csumDiff)
    }
}

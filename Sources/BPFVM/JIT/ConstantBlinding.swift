/// Keys for constant blinding: each immediate of a blinded program reaches the machine code
/// only XORed with a fresh random key, and the key itself is emitted separately, so an
/// attacker-chosen constant never appears as chosen bytes in executable memory (the defence
/// against JIT spraying the kernel applies with `bpf_jit_harden`).
struct ConstantBlinding {
    private var state: UInt64

    init(seed: UInt64 = UInt64.random(in: .min ... .max)) { state = seed | 1 }

    /// The next 64 random bits (xorshift64*).
    private mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }

    mutating func nextKey() -> Int32 { Int32(truncatingIfNeeded: next() >> 16) }

    mutating func nextWideKey() -> UInt64 { next() }
}

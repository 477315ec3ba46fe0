/// The interpreter's operations: one case per executable behaviour, resolved once at load
/// time so the run loop never re-examines opcode bits. Immediate and register forms are
/// separate cases; division and modulo by a zero immediate are folded into the kernel's
/// defined results; jump targets are absolute instruction indices.
@usableFromInline
enum Op: UInt8 {
    // 64-bit arithmetic (i: immediate operand, r: register operand)
    case add64i, add64r, sub64i, sub64r, mul64i, mul64r, div64i, div64r, sdiv64i, sdiv64r
    case mod64i, mod64r, smod64i, smod64r, or64i, or64r, and64i, and64r, xor64i, xor64r
    case lsh64i, lsh64r, rsh64i, rsh64r, arsh64i, arsh64r, mov64i, mov64r, neg64
    case movsx8to64, movsx16to64, movsx32to64
    // 32-bit arithmetic: results zero-extended to 64 bits
    case add32i, add32r, sub32i, sub32r, mul32i, mul32r, div32i, div32r, sdiv32i, sdiv32r
    case mod32i, mod32r, smod32i, smod32r, or32i, or32r, and32i, and32r, xor32i, xor32r
    case lsh32i, lsh32r, rsh32i, rsh32r, arsh32i, arsh32r, mov32i, mov32r, neg32
    case movsx8to32, movsx16to32
    // byte order (the host is little-endian on every platform Swift supports)
    case zext16, zext32, nop, swap16, swap32, swap64
    // memory
    case ldxb, ldxh, ldxw, ldxdw, ldxsb, ldxsh, ldxsw
    case stb, sth, stw, stdw, stxb, stxh, stxw, stxdw
    case atomicAdd32, atomicOr32, atomicAnd32, atomicXor32
    case fetchAdd32, fetchOr32, fetchAnd32, fetchXor32, xchg32, cmpxchg32
    case atomicAdd64, atomicOr64, atomicAnd64, atomicXor64
    case fetchAdd64, fetchOr64, fetchAnd64, fetchXor64, xchg64, cmpxchg64
    case lddw
    // legacy packet access: r0 = big-endian bytes at skb data + imm (+ src for ind)
    case ldabsb, ldabsh, ldabsw, ldindb, ldindh, ldindw
    // control flow
    case ja
    case jeq64i, jeq64r, jgt64i, jgt64r, jge64i, jge64r, jset64i, jset64r, jne64i, jne64r
    case jsgt64i, jsgt64r, jsge64i, jsge64r, jlt64i, jlt64r, jle64i, jle64r
    case jslt64i, jslt64r, jsle64i, jsle64r
    case jeq32i, jeq32r, jgt32i, jgt32r, jge32i, jge32r, jset32i, jset32r, jne32i, jne32r
    case jsgt32i, jsgt32r, jsge32i, jsge32r, jlt32i, jlt32r, jle32i, jle32r
    case jslt32i, jslt32r, jsle32i, jsle32r
    case call, callLocal, callx, exit, tailCall
    // superinstructions: `mov rD, rS` fused with the ALU64 op on rD that follows it
    // (imm forms use imm; register forms keep the second source register in offset)
    case movAdd64i, movSub64i, movMul64i, movOr64i, movAnd64i, movXor64i, movLsh64i, movRsh64i, movArsh64i
    case movAdd64r, movSub64r, movMul64r, movOr64r, movAnd64r, movXor64r, movLsh64r, movRsh64r
    // superinstruction: `lddw rD, imm` and the helper call right after it (offset: the helper
    // id) — how every map helper call begins
    case lddwCall
    // the same for `bpf_map_lookup_elem` when it is the built-in one: called directly
    case mapLookup
    // and with the NULL check after it (`if r0 == 0` / `if r0 != 0`: src 0 / 1; offset: the
    // jump's target)
    case mapLookupBranch
    // the same two for an array map the program was loaded with, inlined as the kernel's JIT
    // inlines them: the lddw's second slot, never executed, holds the values' address (imm),
    // the entry count (offset) and the value stride (dst | src << 8)
    case arrayLookup, arrayLookupBranch
    // superinstructions: `mov wD, wS` fused with the ALU32 immediate op on wD that follows it
    case movAdd32i, movSub32i, movMul32i, movOr32i, movAnd32i, movXor32i, movLsh32i, movRsh32i, movArsh32i
    // superinstructions: a counter update in memory, `rA = *(rB + off); rA += imm;
    // *(rB + off) = rA` (dst: rA, src: rB), for 64-bit and 32-bit values
    case addToMemory64i, addToMemory32i
    // superinstructions: a store and the fused `rP = rB + k` after it with the store's base,
    // how a key on the stack is passed to a helper (imm: k in the low half, P in the high)
    case stxwAddress, stxdwAddress
    // superinstructions: `rD += a` and a compare of rD with an immediate b that follows it,
    // how loops count (imm: a in the low half, b in the high; offset: the jump's target)
    case addJeq64i, addJne64i, addJlt64i, addJgt64i, addJeq32i, addJne32i, addJlt32i, addJgt32i
}

/// One pre-decoded instruction: 16 bytes, read straight from an unsafe buffer by the run loop.
@usableFromInline
struct DecodedInstruction {
    @usableFromInline var op: Op
    @usableFromInline var dst: UInt8
    @usableFromInline var src: UInt8
    /// Memory displacement, or the absolute target index of a jump or local call.
    @usableFromInline var offset: Int32
    /// The immediate, sign-extended to 64 bits (the whole value for `lddw`).
    @usableFromInline var imm: Int64

    init(op: Op, dst: UInt8 = 0, src: UInt8 = 0, offset: Int32 = 0, imm: Int64 = 0) {
        self.op = op
        self.dst = dst
        self.src = src
        self.offset = offset
        self.imm = imm
    }
}

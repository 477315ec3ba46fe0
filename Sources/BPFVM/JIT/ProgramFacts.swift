import BPFCore

extension DecodedInstruction {
    /// Whether this is a jump or local call (whose `offset` is a target index).
    var isJump: Bool {
        switch op {
        case .call, .callx, .exit, .tailCall: false
        case .ja, .callLocal: true
        default: (Op.jeq64i.rawValue...Op.jsle32r.rawValue).contains(op.rawValue)
        }
    }

    /// Whether register `r` surely holds the same value after this instruction.
    func keeps(register r: UInt8) -> Bool {
        switch op {
        case .call, .callx, .callLocal, .tailCall, .exit, .ldabsb, .ldabsh, .ldabsw, .ldindb, .ldindh, .ldindw: false
        case .fetchAdd32, .fetchOr32, .fetchAnd32, .fetchXor32, .xchg32, .fetchAdd64, .fetchOr64, .fetchAnd64, .fetchXor64, .xchg64: src != r
        case .cmpxchg32, .cmpxchg64: r != 0
        case .stb, .sth, .stw, .stdw, .stxb, .stxh, .stxw, .stxdw, .atomicAdd32, .atomicOr32, .atomicAnd32, .atomicXor32,
            .atomicAdd64, .atomicOr64, .atomicAnd64, .atomicXor64, .nop:
            true
        default: isJump || dst != r
        }
    }
}

/// What both JIT backends learn of a decoded program before selecting its instructions: where
/// its functions start (the main program and every bpf-to-bpf call target), and, at each
/// instruction, the array map r1 surely holds — loaded by an `lddw` earlier in the same basic
/// block and not changed since — whose `bpf_map_lookup_elem` the JIT inlines.
struct ProgramFacts {
    let functionEntries: Set<Int>
    /// By instruction index: the array map in r1 when the instruction runs, or nil.
    let arrayInR1: [ArrayLayout?]

    init(_ code: [DecodedInstruction], arrays: [UInt64: ArrayLayout]) {
        var entries: Set<Int> = [0]
        for insn in code where insn.op == .callLocal { entries.insert(Int(insn.offset)) }
        functionEntries = entries
        let jumpTargets = Set(code.indices.filter { code[$0].isJump }.map { Int(code[$0].offset) })
        var known: UInt64?, inR1: [ArrayLayout?] = []
        inR1.reserveCapacity(code.count)
        for (pc, insn) in code.enumerated() {
            if jumpTargets.contains(pc) || entries.contains(pc) { known = nil }
            inR1.append(known.flatMap { arrays[$0] })
            known = insn.op == .lddw && insn.dst == 1 ? UInt64(bitPattern: insn.imm) : insn.keeps(register: 1) ? known : nil
        }
        arrayInR1 = inR1
    }
}

import BPFCore
import BPFMaps

/// Turns validated instructions into the interpreter's ``DecodedInstruction`` form.
enum Predecoder {
    /// Validates `code` (unless a verifier already has: `validated`) and decodes it, slot for
    /// slot; `fuse` adds the interpreter's superinstructions.
    /// `arrays` are the array maps the program may name, by address: their lookups are inlined.
    static func decode(
        _ code: [Instruction], helpers: HelperTable, fuse: Bool = true,
        arrays: [UInt64: ArrayLayout] = [:], validated: Bool = false
    ) throws(PreparationError) -> [DecodedInstruction] {
        if !validated {
            do { try Validator.validate(code) } catch { throw .invalid(error) }
        }
        var out: [DecodedInstruction] = []
        out.reserveCapacity(code.count)
        var i = 0
        while i < code.count {
            let insn = code[i]
            func fail(_ reason: String) -> PreparationError {
                .unsupported(instruction: i, reason: "instruction \(i) (\(Disassembler.text(insn))): \(reason)")
            }
            var d = DecodedInstruction(op: .nop, dst: insn.dst, src: insn.src, offset: Int32(insn.offset), imm: Int64(insn.imm))
            switch insn.opClass {
            case .alu64, .alu: d.op = aluOp(insn)
            case .jmp, .jmp32:
                guard let op = jumpOp(insn) else { throw fail("unsupported jump") }
                d.op = op
                if let displacement = Validator.branchDisplacement(insn) { d.offset = Int32(i + 1 + displacement) }
                if insn.opcode == 0x85, insn.src == CallKind.kfunc.rawValue { throw fail("kernel function calls are not supported by the userspace runtime") }
                if op == .call, insn.imm == HelperID.tailCall.rawValue {
                    d.op = .tailCall  // bpf_tail_call replaces the running program: the run loop does it
                } else if op == .call {
                    guard helpers.contains(insn.imm) else {
                        throw fail("unknown func \(HelperID(rawValue: insn.imm).name.map { "bpf_\($0)" } ?? "")#\(insn.imm): no such helper is registered")
                    }
                }
            case .ldx:
                let sx = insn.opcode & 0xe0 == MemMode.memsx.rawValue
                switch MemSize(rawValue: insn.opcode & 0x18)! {
                case .b: d.op = sx ? .ldxsb : .ldxb
                case .h: d.op = sx ? .ldxsh : .ldxh
                case .w: d.op = sx ? .ldxsw : .ldxw
                case .dw: d.op = .ldxdw
                }
            case .st:
                d.op = [.stw, .sth, .stb, .stdw][Int(insn.opcode & 0x18) >> 3]
            case .stx:
                if insn.opcode & 0xe0 == MemMode.mem.rawValue {
                    d.op = [.stxw, .stxh, .stxb, .stxdw][Int(insn.opcode & 0x18) >> 3]
                } else {
                    d.op = atomicOp(AtomicOp(rawValue: insn.imm)!, is64: insn.opcode & 0x18 == MemSize.dw.rawValue)
                }
            case .ld:
                if !insn.isWide {
                    let indirect = insn.opcode & 0xe0 == MemMode.ind.rawValue
                    switch MemSize(rawValue: insn.opcode & 0x18)! {
                    case .b: d.op = indirect ? .ldindb : .ldabsb
                    case .h: d.op = indirect ? .ldindh : .ldabsh
                    default: d.op = indirect ? .ldindw : .ldabsw
                    }
                    out.append(d)
                    i += 1
                    continue
                }
                if insn.src == WideImmediateKind.function.rawValue {
                    // A function's address, for bpf_loop and the like: its first instruction's
                    // index, which the callback runner starts from.
                    guard let target = Optional(i + 1 + Int(insn.imm)), code.indices.contains(target) else {
                        throw fail("the function address lands outside the program")
                    }
                    d.op = .lddw
                    d.imm = Int64(target)
                    out.append(d)
                    out.append(DecodedInstruction(op: .nop))
                    i += 2
                    continue
                }
                guard insn.src == WideImmediateKind.immediate.rawValue else {
                    throw fail("lddw with pseudo source \(insn.src) must be relocated by the object loader before it can run")
                }
                d.op = .lddw
                d.imm = Int64(bitPattern: UInt64(UInt32(bitPattern: code[i + 1].imm)) << 32 | UInt64(UInt32(bitPattern: insn.imm)))
                out.append(d)
                out.append(DecodedInstruction(op: .nop))  // the second slot is never executed
                i += 2
                continue
            }
            out.append(d)
            i += 1
        }
        if fuse { Self.fuse(&out, directMapLookup: helpers.builtInMapLookup, arrays: arrays) }
        return out
    }

    /// Fuses common sequences into superinstructions: `mov rD, rS` (or `mov wD, wS`) with the
    /// ALU operation on rD in the next slot; `lddw` with a helper call after it (and a map
    /// lookup's NULL check); a load, add and store back to the same place. The slots after
    /// keep their own operations, so a jump to them stays valid.
    static func fuse(_ code: inout [DecodedInstruction], directMapLookup: Bool = false, arrays: [UInt64: ArrayLayout] = [:]) {
        guard code.count > 1 else { return }
        fuseCalls(&code, directMapLookup: directMapLookup, arrays: arrays)
        fuseMoves(&code)
        fuseCounterUpdates(&code)
        fuseKeyAddresses(&code)
        fuseLoopCounts(&code)
    }

    /// `lddw` (two slots) then `call`: one dispatch. The call's slot stays for jumps to it.
    private static func fuseCalls(_ code: inout [DecodedInstruction], directMapLookup: Bool, arrays: [UInt64: ArrayLayout]) {
        for i in 0..<max(code.count - 2, 0) where code[i].op == .lddw && code[i + 2].op == .call {
            code[i].op = directMapLookup && code[i + 2].imm == HelperID.mapLookupElem.rawValue ? .mapLookup : .lddwCall
            code[i].offset = Int32(truncatingIfNeeded: code[i + 2].imm)
            guard code[i].op == .mapLookup else { continue }
            // A lookup then its NULL check: one dispatch for the three.
            if i + 3 < code.count, code[i + 3].dst == 0, code[i + 3].imm == 0,
                code[i + 3].op == .jeq64i || code[i + 3].op == .jne64i
            {
                code[i].op = .mapLookupBranch
                code[i].src = code[i + 3].op == .jeq64i ? 0 : 1
                code[i].offset = code[i + 3].offset
            }
            // In an array map loaded with the program: no call at all. The lddw's second slot,
            // which never runs, holds the layout.
            if let array = arrays[UInt64(bitPattern: code[i].imm)], let stride = UInt16(exactly: array.stride),
                let count = Int32(exactly: array.count)
            {
                code[i].op = code[i].op == .mapLookup ? .arrayLookup : .arrayLookupBranch
                code[i + 1] = DecodedInstruction(
                    op: .nop, dst: UInt8(truncatingIfNeeded: stride), src: UInt8(stride >> 8),
                    offset: count, imm: Int64(bitPattern: array.base))
            }
        }
    }

    private static func fuseMoves(_ code: inout [DecodedInstruction]) {
        let immediate: [Op: Op] = [
            .add64i: .movAdd64i, .sub64i: .movSub64i, .mul64i: .movMul64i, .or64i: .movOr64i, .and64i: .movAnd64i,
            .xor64i: .movXor64i, .lsh64i: .movLsh64i, .rsh64i: .movRsh64i, .arsh64i: .movArsh64i,
        ]
        let register: [Op: Op] = [
            .add64r: .movAdd64r, .sub64r: .movSub64r, .mul64r: .movMul64r, .or64r: .movOr64r, .and64r: .movAnd64r,
            .xor64r: .movXor64r, .lsh64r: .movLsh64r, .rsh64r: .movRsh64r,
        ]
        let immediate32: [Op: Op] = [
            .add32i: .movAdd32i, .sub32i: .movSub32i, .mul32i: .movMul32i, .or32i: .movOr32i, .and32i: .movAnd32i,
            .xor32i: .movXor32i, .lsh32i: .movLsh32i, .rsh32i: .movRsh32i, .arsh32i: .movArsh32i,
        ]
        for i in 0..<(code.count - 1) {
            let mov = code[i], next = code[i + 1]
            guard next.dst == mov.dst else { continue }
            if mov.op == .mov64r, let fused = immediate[next.op] {
                code[i] = DecodedInstruction(op: fused, dst: mov.dst, src: mov.src, imm: next.imm)
            } else if mov.op == .mov64r, let fused = register[next.op] {
                // After the mov, rD holds rS: a second source of rD reads rS.
                let second = next.src == mov.dst ? mov.src : next.src
                code[i] = DecodedInstruction(op: fused, dst: mov.dst, src: mov.src, offset: Int32(second))
            } else if mov.op == .mov32r, let fused = immediate32[next.op] {
                code[i] = DecodedInstruction(op: fused, dst: mov.dst, src: mov.src, imm: next.imm)
            }
        }
    }

    /// `rA = *(rB + off); rA += imm; *(rB + off) = rA`, 64 or 32 bits wide, rA ≠ rB.
    private static func fuseCounterUpdates(_ code: inout [DecodedInstruction]) {
        for i in 0..<max(code.count - 2, 0) {
            let load = code[i], add = code[i + 1], store = code[i + 2]
            guard load.dst != load.src, add.dst == load.dst, store.src == load.dst, store.dst == load.src,
                store.offset == load.offset
            else { continue }
            switch (load.op, add.op, store.op) {
            case (.ldxdw, .add64i, .stxdw): code[i].op = .addToMemory64i
            case (.ldxw, .add32i, .stxw): code[i].op = .addToMemory32i
            default: continue
            }
            code[i].imm = add.imm
        }
    }

    /// A store through rB, then `rP = rB + k` (already fused from its mov and add).
    private static func fuseKeyAddresses(_ code: inout [DecodedInstruction]) {
        for i in 0..<max(code.count - 2, 0) where code[i + 1].op == .movAdd64i && code[i + 1].src == code[i].dst {
            switch code[i].op {
            case .stxw: code[i].op = .stxwAddress
            case .stxdw: code[i].op = .stxdwAddress
            default: continue
            }
            code[i].imm = Int64(code[i + 1].dst) << 32 | Int64(UInt32(truncatingIfNeeded: code[i + 1].imm))
        }
    }

    /// `rD += a` then `if rD <op> b goto T`, of the same width.
    private static func fuseLoopCounts(_ code: inout [DecodedInstruction]) {
        let fused: [Op: [Op: Op]] = [
            .add64i: [.jeq64i: .addJeq64i, .jne64i: .addJne64i, .jlt64i: .addJlt64i, .jgt64i: .addJgt64i],
            .add32i: [.jeq32i: .addJeq32i, .jne32i: .addJne32i, .jlt32i: .addJlt32i, .jgt32i: .addJgt32i],
        ]
        for i in 0..<(code.count - 1) where code[i + 1].dst == code[i].dst {
            guard let op = fused[code[i].op]?[code[i + 1].op] else { continue }
            code[i] = DecodedInstruction(
                op: op, dst: code[i].dst, offset: code[i + 1].offset,
                imm: code[i + 1].imm << 32 | Int64(UInt32(truncatingIfNeeded: code[i].imm)))
        }
    }

    private static func aluOp(_ insn: Instruction) -> Op {
        let is64 = insn.opClass == .alu64
        let reg = insn.opcode & 0x08 != 0
        let op = ALUOp(rawValue: insn.opcode & 0xf0)!
        let signed = insn.offset == 1
        func pick(_ i64: Op, _ r64: Op, _ i32: Op, _ r32: Op) -> Op { is64 ? (reg ? r64 : i64) : (reg ? r32 : i32) }
        switch op {
        case .add: return pick(.add64i, .add64r, .add32i, .add32r)
        case .sub: return pick(.sub64i, .sub64r, .sub32i, .sub32r)
        case .mul: return pick(.mul64i, .mul64r, .mul32i, .mul32r)
        case .div:
            if !reg, insn.imm == 0 { return is64 ? .mov64i : .mov32i }  // x / 0 == 0 (imm is 0)
            return signed ? pick(.sdiv64i, .sdiv64r, .sdiv32i, .sdiv32r) : pick(.div64i, .div64r, .div32i, .div32r)
        case .mod:
            if !reg, insn.imm == 0 { return is64 ? .nop : .zext32 }  // x % 0 == x
            return signed ? pick(.smod64i, .smod64r, .smod32i, .smod32r) : pick(.mod64i, .mod64r, .mod32i, .mod32r)
        case .or: return pick(.or64i, .or64r, .or32i, .or32r)
        case .and: return pick(.and64i, .and64r, .and32i, .and32r)
        case .xor: return pick(.xor64i, .xor64r, .xor32i, .xor32r)
        case .lsh: return pick(.lsh64i, .lsh64r, .lsh32i, .lsh32r)
        case .rsh: return pick(.rsh64i, .rsh64r, .rsh32i, .rsh32r)
        case .arsh: return pick(.arsh64i, .arsh64r, .arsh32i, .arsh32r)
        case .neg: return is64 ? .neg64 : .neg32
        case .mov:
            switch (is64, reg ? insn.offset : 0) {
            case (true, 8): return .movsx8to64
            case (true, 16): return .movsx16to64
            case (true, 32): return .movsx32to64
            case (false, 8): return .movsx8to32
            case (false, 16): return .movsx16to32
            default: return pick(.mov64i, .mov64r, .mov32i, .mov32r)
            }
        case .end:
            let toBigEndian = is64 || reg  // ALU64 END is the unconditional bswap
            switch insn.imm {
            case 16: return toBigEndian ? .swap16 : .zext16
            case 32: return toBigEndian ? .swap32 : .zext32
            default: return toBigEndian ? .swap64 : .nop
            }
        }
    }

    private static func jumpOp(_ insn: Instruction) -> Op? {
        let is64 = insn.opClass == .jmp
        let reg = insn.opcode & 0x08 != 0
        func pick(_ i64: Op, _ r64: Op, _ i32: Op, _ r32: Op) -> Op { is64 ? (reg ? r64 : i64) : (reg ? r32 : i32) }
        switch JumpOp(rawValue: insn.opcode & 0xf0)! {
        case .ja: return .ja
        case .jeq: return pick(.jeq64i, .jeq64r, .jeq32i, .jeq32r)
        case .jgt: return pick(.jgt64i, .jgt64r, .jgt32i, .jgt32r)
        case .jge: return pick(.jge64i, .jge64r, .jge32i, .jge32r)
        case .jset: return pick(.jset64i, .jset64r, .jset32i, .jset32r)
        case .jne: return pick(.jne64i, .jne64r, .jne32i, .jne32r)
        case .jsgt: return pick(.jsgt64i, .jsgt64r, .jsgt32i, .jsgt32r)
        case .jsge: return pick(.jsge64i, .jsge64r, .jsge32i, .jsge32r)
        case .jlt: return pick(.jlt64i, .jlt64r, .jlt32i, .jlt32r)
        case .jle: return pick(.jle64i, .jle64r, .jle32i, .jle32r)
        case .jslt: return pick(.jslt64i, .jslt64r, .jslt32i, .jslt32r)
        case .jsle: return pick(.jsle64i, .jsle64r, .jsle32i, .jsle32r)
        case .call:
            if reg { return .callx }
            return insn.src == CallKind.local.rawValue ? .callLocal : .call
        case .exit: return .exit
        }
    }

    private static func atomicOp(_ op: AtomicOp, is64: Bool) -> Op {
        switch op {
        case .add: is64 ? .atomicAdd64 : .atomicAdd32
        case .or: is64 ? .atomicOr64 : .atomicOr32
        case .and: is64 ? .atomicAnd64 : .atomicAnd32
        case .xor: is64 ? .atomicXor64 : .atomicXor32
        case .fetchAdd: is64 ? .fetchAdd64 : .fetchAdd32
        case .fetchOr: is64 ? .fetchOr64 : .fetchOr32
        case .fetchAnd: is64 ? .fetchAnd64 : .fetchAnd32
        case .fetchXor: is64 ? .fetchXor64 : .fetchXor32
        case .xchg: is64 ? .xchg64 : .xchg32
        case .cmpxchg: is64 ? .cmpxchg64 : .cmpxchg32
        }
    }
}

/// Where an array map keeps its values, for lookups compiled or decoded inline.
struct ArrayLayout {
    var base: UInt64
    var stride: Int
    var count: Int

    /// The array maps among `maps`, by the address a relocated `lddw` loads.
    static func of(_ maps: [BPFMap]) -> [UInt64: ArrayLayout] {
        var arrays: [UInt64: ArrayLayout] = [:]
        for map in maps {
            if let (base, stride, count) = map.directLookup {
                arrays[UInt64(UInt(bitPattern: Unmanaged.passUnretained(map).toOpaque()))] = ArrayLayout(base: base, stride: stride, count: count)
            }
        }
        return arrays
    }
}

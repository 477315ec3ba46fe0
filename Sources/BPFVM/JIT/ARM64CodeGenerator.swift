import BPFCore
import BPFPlatform

/// Instruction selection for AArch64: BPF operations to ``ARM64Assembler`` calls.
///
/// Register mapping (the kernel's arm64 JIT's, so helper calls need no shuffling under
/// AAPCS64): r0 → x7, r1–r5 → x0–x4 (the argument registers), r6–r9 → x19–x22 and r10 → x25
/// (callee-saved, so they survive helper calls). x28 holds the run's ``JITRuntimeBlock``
/// throughout; x9–x14 are scratch; x5 carries the helper context to helpers (their sixth
/// argument). Helpers are called through the runtime block's table, so the code holds no host
/// address but inlined array maps'.
///
/// Layout of the emitted code, as the x86-64 generator's:
/// - a trampoline, the entry point `(r1, r2, runtime) -> r0`: saves the host's callee-saved
///   registers, records the stack pointer for unwinding, zeroes the BPF registers, calls the
///   main function;
/// - one native function per BPF function, each with the same frame: `stp x29, x30`; `x19`–`x22`,
///   `x25`–`x26` saved; `x25` = the frame's top; 512 bytes of BPF stack below it;
/// - out-of-line stubs for run-time errors, which store what happened in the runtime block and
///   unwind to the trampoline.
///
/// Atomics use LSE instructions (`ldaddal`, `casal`…) when `largeSystemExtensions` is on (the
/// host has them: ``ARM64CodeGenerator/hostHasLSE``) and load/store-exclusive loops otherwise.
struct ARM64CodeGenerator {
    /// BPF register → AArch64 register.
    static let registers: [A64Register] = [7, 0, 1, 2, 3, 4, 19, 20, 21, 22, 25].map { A64Register($0) }
    /// Bytes a BPF function's native frame takes: x29/x30, x19–x22, x25–x26, 512 bytes of stack.
    static let frameSize = 16 + 48 + BPFLimits.stackSize

    private static let runtimeRegister = A64Register(28)
    private static let contextArgument = A64Register(5)
    private static let (t0, t1, t2, t3, t4) = (A64Register(9), A64Register(10), A64Register(11), A64Register(12), A64Register(13))
    /// Where a blinded constant's key goes (never a constant's own destination).
    private static let key = A64Register(14)

    private let code: [DecodedInstruction]
    private let largeSystemExtensions: Bool
    private let facts: ProgramFacts
    private var blinding: ConstantBlinding?
    var asm: ARM64Assembler

    private var pcLabels: [A64Label] = []
    private var functionLabels: [Int: A64Label] = [:]
    private var epilogue: A64Label
    private var unwind: A64Label
    private var returnZero: A64Label
    private var trampolineExit: A64Label
    private var stubs: [(label: A64Label, pc: Int, kind: JITRuntimeBlock.ErrorKind, register: A64Register?)] = []
    /// Native offset where each BPF instruction's code starts.
    private(set) var instructionOffsets: [Int] = []
    /// Native offset of the main function's body: where tail calls into this program land.
    private(set) var tailCallEntry = 0

    init(code: [DecodedInstruction], arrays: [UInt64: ArrayLayout], blinding: ConstantBlinding?, largeSystemExtensions: Bool, listing: Bool) {
        self.code = code
        facts = ProgramFacts(code, arrays: arrays)
        self.blinding = blinding
        self.largeSystemExtensions = largeSystemExtensions
        asm = ARM64Assembler(listing: listing)
        epilogue = asm.makeLabel()
        unwind = asm.makeLabel()
        returnZero = asm.makeLabel()
        trampolineExit = asm.makeLabel()
    }

    /// Whether this host's CPU has the Large System Extensions' atomics (ARMv8.1): read from
    /// the kernel's hardware capabilities on Linux; every Apple arm64 CPU has them.
    static var hostHasLSE: Bool {
        #if os(Linux) && arch(arm64)
        // AT_HWCAP (16) & HWCAP_ATOMICS (1 << 8).
        getauxval(16) & (1 << 8) != 0
        #elseif arch(arm64)
        true
        #else
        false
        #endif
    }

    private static func r(_ bpf: UInt8) -> A64Register { registers[Int(bpf)] }

    // MARK: - Whole program

    mutating func generate() {
        pcLabels = code.indices.map { _ in asm.makeLabel() }
        for entry in facts.functionEntries { functionLabels[entry] = asm.makeLabel() }

        emitTrampoline()
        instructionOffsets = Array(repeating: 0, count: code.count)
        for pc in code.indices {
            if let function = functionLabels[pc] {
                if pc != 0 { asm.b(pcLabels[pc]) }
                asm.bind(function)
                emitPrologue()
                if pc == 0 { tailCallEntry = asm.offset }
            }
            asm.bind(pcLabels[pc])
            instructionOffsets[pc] = asm.offset
            lower(pc)
        }
        asm.bind(epilogue)
        asm.movStackPointer(.sp, Self.r(10))
        asm.pop(A64Register(25), A64Register(26))
        asm.pop(A64Register(21), A64Register(22))
        asm.pop(A64Register(19), A64Register(20))
        asm.pop(.fp, .lr)
        asm.ret()
        emitStubs()
    }

    private mutating func emitTrampoline() {
        asm.push(.fp, .lr)
        asm.movStackPointer(.fp, .sp)
        for pair in stride(from: 19, through: 27, by: 2) { asm.push(A64Register(UInt8(pair)), A64Register(UInt8(pair + 1))) }
        asm.mov(true, Self.runtimeRegister, A64Register(2))
        asm.movStackPointer(Self.t0, .sp)
        store(Self.t0, JITRuntimeBlock.savedStack)
        // A call may go deeper only while sp is at or above this: 8 frames in all.
        asm.addImmediate(true, Self.t0, Self.t0, UInt32((BPFLimits.maxCallFrames - 1) * Self.frameSize), subtract: true)
        store(Self.t0, JITRuntimeBlock.stackLimit)
        store(.zr, JITRuntimeBlock.tailCalls)
        for reg in [7, 2, 3, 4, 19, 20, 21, 22] { asm.movImmediate(true, A64Register(UInt8(reg)), 0) }
        asm.bl(functionLabels[0]!)
        asm.bind(trampolineExit)
        asm.mov(true, A64Register(0), Self.r(0))
        for pair in stride(from: 27, through: 19, by: -2) { asm.pop(A64Register(UInt8(pair)), A64Register(UInt8(pair + 1))) }
        asm.pop(.fp, .lr)
        asm.ret()
    }

    private mutating func emitPrologue() {
        asm.push(.fp, .lr)
        asm.movStackPointer(.fp, .sp)
        asm.push(A64Register(19), A64Register(20))
        asm.push(A64Register(21), A64Register(22))
        asm.push(A64Register(25), A64Register(26))
        asm.movStackPointer(Self.r(10), .sp)
        asm.addImmediate(true, .sp, .sp, UInt32(BPFLimits.stackSize), subtract: true)
    }

    private mutating func emitStubs() {
        for stub in stubs {
            asm.bind(stub.label)
            asm.movImmediate(true, Self.t0, UInt64(stub.kind.rawValue))
            store(Self.t0, JITRuntimeBlock.errorKind)
            asm.movImmediate(true, Self.t0, UInt64(stub.pc))
            store(Self.t0, JITRuntimeBlock.errorPC)
            if let reg = stub.register { store(reg, JITRuntimeBlock.errorValue) }
            asm.b(unwind)
        }
        asm.bind(returnZero)
        asm.movImmediate(true, Self.r(0), 0)
        asm.bind(unwind)
        load(Self.t0, JITRuntimeBlock.savedStack)
        asm.movStackPointer(.sp, Self.t0)
        asm.b(trampolineExit)
        for _ in 0..<4 { asm.trap() }
    }

    private mutating func stub(_ pc: Int, _ kind: JITRuntimeBlock.ErrorKind, register: A64Register? = nil) -> A64Label {
        let label = asm.makeLabel()
        stubs.append((label, pc, kind, register))
        return label
    }

    private mutating func store(_ reg: A64Register, _ field: Int32) {
        asm.memory(load: false, size: 8, reg, Self.runtimeRegister, Int(field), scratch: Self.t4)
    }

    private mutating func load(_ reg: A64Register, _ field: Int32) {
        asm.memory(load: true, size: 8, reg, Self.runtimeRegister, Int(field), scratch: Self.t4)
    }

    // MARK: - Immediates

    /// `reg = value` (64-bit: sign-extended; 32-bit: the low half, zero-extended), blinded when
    /// blinding is on: `value ^ key`, then `eor` with the key, from a second scratch register.
    private mutating func constant(_ value: Int64, wide: Bool, into reg: A64Register) {
        let bits = wide ? UInt64(bitPattern: value) : UInt64(UInt32(truncatingIfNeeded: value))
        if blinding != nil {
            let key = wide ? blinding!.nextWideKey() : UInt64(UInt32(bitPattern: blinding!.nextKey()))
            asm.movImmediate(wide, reg, bits ^ key)
            asm.movImmediate(wide, Self.key, key)
            asm.alu(.eor, wide, reg, reg, Self.key)
        } else {
            asm.movImmediate(wide, reg, bits)
        }
    }

    /// `d = d op imm`: `add`/`sub` with a 12-bit immediate where it fits (unblinded), else
    /// through a scratch register.
    private mutating func aluImmediate(_ op: A64ALU, _ wide: Bool, _ d: A64Register, _ imm: Int64) {
        let value = wide ? imm : Int64(Int32(truncatingIfNeeded: imm))
        if blinding == nil, op == .add || op == .sub, value > -4096, value < 4096 {
            let subtract = (op == .sub) != (value < 0)
            asm.addImmediate(wide, d, d, UInt32(abs(value)), subtract: subtract)
            return
        }
        constant(value, wide: wide, into: Self.t0)
        asm.alu(op, wide, d, d, Self.t0)
    }

    // MARK: - One instruction

    private mutating func lower(_ pc: Int) {
        let insn = code[pc]
        let d = Self.r(insn.dst), s = Self.r(insn.src)
        let imm = insn.imm
        let offset = Int(insn.offset)
        switch insn.op {
        case .add64i: aluImmediate(.add, true, d, imm)
        case .sub64i: aluImmediate(.sub, true, d, imm)
        case .or64i: aluImmediate(.orr, true, d, imm)
        case .and64i: aluImmediate(.and, true, d, imm)
        case .xor64i: aluImmediate(.eor, true, d, imm)
        case .add32i: aluImmediate(.add, false, d, imm)
        case .sub32i: aluImmediate(.sub, false, d, imm)
        case .or32i: aluImmediate(.orr, false, d, imm)
        case .and32i: aluImmediate(.and, false, d, imm)
        case .xor32i: aluImmediate(.eor, false, d, imm)
        case .add64r: asm.alu(.add, true, d, d, s)
        case .sub64r: asm.alu(.sub, true, d, d, s)
        case .or64r: asm.alu(.orr, true, d, d, s)
        case .and64r: asm.alu(.and, true, d, d, s)
        case .xor64r: asm.alu(.eor, true, d, d, s)
        case .add32r: asm.alu(.add, false, d, d, s)
        case .sub32r: asm.alu(.sub, false, d, d, s)
        case .or32r: asm.alu(.orr, false, d, d, s)
        case .and32r: asm.alu(.and, false, d, d, s)
        case .xor32r: asm.alu(.eor, false, d, d, s)
        case .mul64r: asm.mul(true, d, d, s)
        case .mul32r: asm.mul(false, d, d, s)
        case .mul64i, .mul32i:
            let wide = insn.op == .mul64i
            constant(imm, wide: wide, into: Self.t0)
            asm.mul(wide, d, d, Self.t0)
        case .mov64r: asm.mov(true, d, s)
        case .mov32r: asm.mov(false, d, s)
        case .mov64i: constant(imm, wide: true, into: d)
        case .mov32i: constant(imm, wide: false, into: d)
        case .neg64: asm.alu(.sub, true, d, .zr, d)
        case .neg32: asm.alu(.sub, false, d, .zr, d)
        case .movsx8to64: asm.extend(signed: true, bits: 8, true, d, s)
        case .movsx16to64: asm.extend(signed: true, bits: 16, true, d, s)
        case .movsx32to64: asm.extend(signed: true, bits: 32, true, d, s)
        case .movsx8to32: asm.extend(signed: true, bits: 8, false, d, s)
        case .movsx16to32: asm.extend(signed: true, bits: 16, false, d, s)

        case .lsh64i, .rsh64i, .arsh64i:
            let amount = UInt32(imm & 63)
            if amount != 0 { asm.shift(insn.op == .lsh64i ? .lsl : insn.op == .rsh64i ? .lsr : .asr, true, d, d, immediate: amount) }
        case .lsh32i, .rsh32i, .arsh32i:
            let amount = UInt32(imm & 31)
            // A 32-bit shift by 0 still zero-extends the result.
            if amount == 0 { asm.mov(false, d, d); break }
            asm.shift(insn.op == .lsh32i ? .lsl : insn.op == .rsh32i ? .lsr : .asr, false, d, d, immediate: amount)
        case .lsh64r: asm.shift(.lsl, true, d, d, s)
        case .rsh64r: asm.shift(.lsr, true, d, d, s)
        case .arsh64r: asm.shift(.asr, true, d, d, s)
        case .lsh32r: asm.shift(.lsl, false, d, d, s)
        case .rsh32r: asm.shift(.lsr, false, d, d, s)
        case .arsh32r: asm.shift(.asr, false, d, d, s)

        // udiv/sdiv give the kernel's results by themselves: 0 for a zero divisor, INT_MIN for
        // INT_MIN / -1; msub then gives the dividend, and 0, as remainders.
        case .div64i, .sdiv64i, .mod64i, .smod64i, .div32i, .sdiv32i, .mod32i, .smod32i:
            let wide = [.div64i, .sdiv64i, .mod64i, .smod64i].contains(insn.op)
            constant(imm, wide: wide, into: Self.t0)
            divide(
                wide, d, Self.t0, signed: [.sdiv64i, .smod64i, .sdiv32i, .smod32i].contains(insn.op),
                modulo: [.mod64i, .smod64i, .mod32i, .smod32i].contains(insn.op))
        case .div64r: divide(true, d, s, signed: false, modulo: false)
        case .sdiv64r: divide(true, d, s, signed: true, modulo: false)
        case .mod64r: divide(true, d, s, signed: false, modulo: true)
        case .smod64r: divide(true, d, s, signed: true, modulo: true)
        case .div32r: divide(false, d, s, signed: false, modulo: false)
        case .sdiv32r: divide(false, d, s, signed: true, modulo: false)
        case .mod32r: divide(false, d, s, signed: false, modulo: true)
        case .smod32r: divide(false, d, s, signed: true, modulo: true)

        case .zext16: asm.extend(signed: false, bits: 16, false, d, d)
        case .zext32: asm.mov(false, d, d)
        case .nop: break
        case .swap16:
            asm.reverseBytes(2, d, d)
            asm.extend(signed: false, bits: 16, false, d, d)
        case .swap32: asm.reverseBytes(4, d, d)
        case .swap64: asm.reverseBytes(8, d, d)

        case .ldxb: asm.memory(load: true, size: 1, d, s, offset, scratch: Self.t0)
        case .ldxh: asm.memory(load: true, size: 2, d, s, offset, scratch: Self.t0)
        case .ldxw: asm.memory(load: true, size: 4, d, s, offset, scratch: Self.t0)
        case .ldxdw: asm.memory(load: true, size: 8, d, s, offset, scratch: Self.t0)
        case .ldxsb: asm.memory(load: true, size: 1, signed: true, d, s, offset, scratch: Self.t0)
        case .ldxsh: asm.memory(load: true, size: 2, signed: true, d, s, offset, scratch: Self.t0)
        case .ldxsw: asm.memory(load: true, size: 4, signed: true, d, s, offset, scratch: Self.t0)
        case .stb, .sth, .stw, .stdw:
            let size = insn.op == .stb ? 1 : insn.op == .sth ? 2 : insn.op == .stw ? 4 : 8
            constant(imm, wide: size == 8, into: Self.t1)
            asm.memory(load: false, size: size, Self.t1, d, offset, scratch: Self.t0)
        case .stxb: asm.memory(load: false, size: 1, s, d, offset, scratch: Self.t0)
        case .stxh: asm.memory(load: false, size: 2, s, d, offset, scratch: Self.t0)
        case .stxw: asm.memory(load: false, size: 4, s, d, offset, scratch: Self.t0)
        case .stxdw: asm.memory(load: false, size: 8, s, d, offset, scratch: Self.t0)

        case .atomicAdd32, .atomicOr32, .atomicAnd32, .atomicXor32, .fetchAdd32, .fetchOr32, .fetchAnd32, .fetchXor32, .xchg32, .cmpxchg32,
            .atomicAdd64, .atomicOr64, .atomicAnd64, .atomicXor64, .fetchAdd64, .fetchOr64, .fetchAnd64, .fetchXor64, .xchg64, .cmpxchg64:
            atomic(insn)

        case .lddw:
            if blinding != nil {
                let key = blinding!.nextWideKey()
                asm.movImmediate(true, d, UInt64(bitPattern: imm) ^ key)
                asm.movImmediate(true, Self.key, key)
                asm.alu(.eor, true, d, d, Self.key)
            } else {
                asm.movImmediate(true, d, UInt64(bitPattern: imm))
            }

        case .ldabsb, .ldabsh, .ldabsw, .ldindb, .ldindh, .ldindw:
            loadPacket(insn)

        case .ja: asm.b(pcLabels[offset])
        case .jeq64i: compareImmediate(insn, true, .eq)
        case .jne64i: compareImmediate(insn, true, .ne)
        case .jgt64i: compareImmediate(insn, true, .hi)
        case .jge64i: compareImmediate(insn, true, .hs)
        case .jlt64i: compareImmediate(insn, true, .lo)
        case .jle64i: compareImmediate(insn, true, .ls)
        case .jsgt64i: compareImmediate(insn, true, .gt)
        case .jsge64i: compareImmediate(insn, true, .ge)
        case .jslt64i: compareImmediate(insn, true, .lt)
        case .jsle64i: compareImmediate(insn, true, .le)
        case .jset64i: compareImmediate(insn, true, .ne, test: true)
        case .jeq32i: compareImmediate(insn, false, .eq)
        case .jne32i: compareImmediate(insn, false, .ne)
        case .jgt32i: compareImmediate(insn, false, .hi)
        case .jge32i: compareImmediate(insn, false, .hs)
        case .jlt32i: compareImmediate(insn, false, .lo)
        case .jle32i: compareImmediate(insn, false, .ls)
        case .jsgt32i: compareImmediate(insn, false, .gt)
        case .jsge32i: compareImmediate(insn, false, .ge)
        case .jslt32i: compareImmediate(insn, false, .lt)
        case .jsle32i: compareImmediate(insn, false, .le)
        case .jset32i: compareImmediate(insn, false, .ne, test: true)
        case .jeq64r: compareRegisters(insn, true, .eq)
        case .jne64r: compareRegisters(insn, true, .ne)
        case .jgt64r: compareRegisters(insn, true, .hi)
        case .jge64r: compareRegisters(insn, true, .hs)
        case .jlt64r: compareRegisters(insn, true, .lo)
        case .jle64r: compareRegisters(insn, true, .ls)
        case .jsgt64r: compareRegisters(insn, true, .gt)
        case .jsge64r: compareRegisters(insn, true, .ge)
        case .jslt64r: compareRegisters(insn, true, .lt)
        case .jsle64r: compareRegisters(insn, true, .le)
        case .jset64r: compareRegisters(insn, true, .ne, test: true)
        case .jeq32r: compareRegisters(insn, false, .eq)
        case .jne32r: compareRegisters(insn, false, .ne)
        case .jgt32r: compareRegisters(insn, false, .hi)
        case .jge32r: compareRegisters(insn, false, .hs)
        case .jlt32r: compareRegisters(insn, false, .lo)
        case .jle32r: compareRegisters(insn, false, .ls)
        case .jsgt32r: compareRegisters(insn, false, .gt)
        case .jsge32r: compareRegisters(insn, false, .ge)
        case .jslt32r: compareRegisters(insn, false, .lt)
        case .jsle32r: compareRegisters(insn, false, .le)
        case .jset32r: compareRegisters(insn, false, .ne, test: true)

        case .call:
            if imm == HelperID.mapLookupElem.rawValue, let array = facts.arrayInR1[pc] {
                inlineArrayLookup(array)
            } else {
                load(Self.t0, JITRuntimeBlock.helpers + Int32(imm) * 8)
                callHelper(Self.t0)
            }
        case .callx:
            // The id is known only now: bounds-check it and fetch the table entry.
            let unknown = stub(pc, .unknownHelper, register: d)
            asm.addImmediate(true, .zr, d, UInt32(HelperTable.capacity - 1), subtract: true, setFlags: true)
            asm.b(.hi, unknown)
            asm.alu(.add, true, Self.t0, Self.runtimeRegister, d, shift: 3)
            asm.memory(load: true, size: 8, Self.t0, Self.t0, Int(JITRuntimeBlock.helpers), scratch: Self.t4)
            asm.compareBranch(nonzero: false, true, Self.t0, unknown)
            callHelper(Self.t0)
        case .callLocal:
            // Below the limit, this call would make a ninth frame.
            asm.movStackPointer(Self.t0, .sp)
            load(Self.t1, JITRuntimeBlock.stackLimit)
            asm.alu(.subs, true, .zr, Self.t0, Self.t1)
            asm.b(.lo, stub(pc, .callDepth))
            asm.bl(functionLabels[offset]!)
        case .exit:
            if pc + 1 < code.count { asm.b(epilogue) }
        case .tailCall:
            tailCall()

        case .movAdd64i, .movSub64i, .movMul64i, .movOr64i, .movAnd64i, .movXor64i, .movLsh64i, .movRsh64i, .movArsh64i,
            .movAdd64r, .movSub64r, .movMul64r, .movOr64r, .movAnd64r, .movXor64r, .movLsh64r, .movRsh64r, .lddwCall, .mapLookup, .mapLookupBranch,
            .arrayLookup, .arrayLookupBranch, .movAdd32i, .movSub32i, .movMul32i, .movOr32i, .movAnd32i, .movXor32i, .movLsh32i,
            .movRsh32i, .movArsh32i, .addToMemory64i, .addToMemory32i, .stxwAddress, .stxdwAddress, .addJeq64i, .addJne64i, .addJlt64i,
            .addJgt64i, .addJeq32i, .addJne32i, .addJlt32i, .addJgt32i:
            preconditionFailure("superinstructions are the interpreter's; the JIT decodes without fusing")
        }
    }

    // MARK: - Lowering helpers

    private mutating func divide(_ wide: Bool, _ d: A64Register, _ divisor: A64Register, signed: Bool, modulo: Bool) {
        if modulo {
            asm.divide(wide, signed: signed, Self.t1, d, divisor)
            asm.msub(wide, d, Self.t1, divisor, d)
        } else {
            asm.divide(wide, signed: signed, d, d, divisor)
        }
    }

    private mutating func compareImmediate(_ insn: DecodedInstruction, _ wide: Bool, _ condition: A64Condition, test: Bool = false) {
        let d = Self.r(insn.dst)
        let value = wide ? insn.imm : Int64(UInt32(truncatingIfNeeded: insn.imm))
        if test {
            constant(insn.imm, wide: wide, into: Self.t0)
            asm.alu(.ands, wide, .zr, d, Self.t0)
        } else if blinding == nil, value >= 0, value < 4096 {
            asm.addImmediate(wide, .zr, d, UInt32(value), subtract: true, setFlags: true)
        } else if blinding == nil, value < 0, value > -4096 {
            asm.addImmediate(wide, .zr, d, UInt32(-value), setFlags: true)
        } else {
            constant(insn.imm, wide: wide, into: Self.t0)
            asm.alu(.subs, wide, .zr, d, Self.t0)
        }
        asm.b(condition, pcLabels[Int(insn.offset)])
    }

    private mutating func compareRegisters(_ insn: DecodedInstruction, _ wide: Bool, _ condition: A64Condition, test: Bool = false) {
        asm.alu(test ? .ands : .subs, wide, .zr, Self.r(insn.dst), Self.r(insn.src))
        asm.b(condition, pcLabels[Int(insn.offset)])
    }

    /// The address `base + offset` in a register: `base` itself, or t2.
    private mutating func address(_ base: A64Register, _ offset: Int) -> A64Register {
        if offset == 0 { return base }
        if offset > -4096, offset < 4096 {
            asm.addImmediate(true, Self.t2, base, UInt32(abs(offset)), subtract: offset < 0)
        } else {
            asm.movImmediate(true, Self.t2, UInt64(bitPattern: Int64(offset)))
            asm.alu(.add, true, Self.t2, base, Self.t2)
        }
        return Self.t2
    }

    private mutating func atomic(_ insn: DecodedInstruction) {
        let d = Self.r(insn.dst), s = Self.r(insn.src), r0 = Self.r(0)
        let wide: Bool
        switch insn.op {
        case .atomicAdd64, .atomicOr64, .atomicAnd64, .atomicXor64, .fetchAdd64, .fetchOr64, .fetchAnd64, .fetchXor64, .xchg64, .cmpxchg64: wide = true
        default: wide = false
        }
        let addr = address(d, Int(insn.offset))
        enum Kind { case op(A64ALU, fetch: Bool), xchg, cmpxchg }
        let kind: Kind
        switch insn.op {
        case .atomicAdd32, .atomicAdd64: kind = .op(.add, fetch: false)
        case .atomicOr32, .atomicOr64: kind = .op(.orr, fetch: false)
        case .atomicAnd32, .atomicAnd64: kind = .op(.and, fetch: false)
        case .atomicXor32, .atomicXor64: kind = .op(.eor, fetch: false)
        case .fetchAdd32, .fetchAdd64: kind = .op(.add, fetch: true)
        case .fetchOr32, .fetchOr64: kind = .op(.orr, fetch: true)
        case .fetchAnd32, .fetchAnd64: kind = .op(.and, fetch: true)
        case .fetchXor32, .fetchXor64: kind = .op(.eor, fetch: true)
        case .xchg32, .xchg64: kind = .xchg
        default: kind = .cmpxchg
        }
        if largeSystemExtensions {
            switch kind {
            case let .op(op, fetch):
                // and is a clear of the complement.
                var operand = s
                if op == .and {
                    asm.mvn(wide, Self.t1, s)
                    operand = Self.t1
                }
                let lse: A64AtomicOp = op == .add ? .add : op == .orr ? .set : op == .eor ? .eor : .clr
                asm.atomic(lse, wide, ordered: fetch, operand, fetch ? s : .zr, addr)
            case .xchg: asm.atomic(.swp, wide, ordered: true, s, s, addr)
            case .cmpxchg:
                asm.mov(true, Self.t1, r0)
                asm.compareAndSwap(wide, Self.t1, s, addr)
                asm.mov(wide, r0, Self.t1)
            }
            return
        }
        // Load-exclusive/store-exclusive loops; the fetching forms are fully ordered, as LSE's
        // acquire-release ones are.
        let retry = asm.makeLabel(), done = asm.makeLabel()
        asm.bind(retry)
        asm.loadExclusive(wide, Self.t1, addr)
        switch kind {
        case let .op(op, fetch):
            asm.alu(op, wide, Self.t4, Self.t1, s)
            asm.storeExclusive(wide, status: Self.t3, Self.t4, addr)
            asm.compareBranch(nonzero: true, false, Self.t3, retry)
            if fetch {
                asm.barrier()
                asm.mov(wide, s, Self.t1)
            }
        case .xchg:
            asm.storeExclusive(wide, status: Self.t3, s, addr)
            asm.compareBranch(nonzero: true, false, Self.t3, retry)
            asm.barrier()
            asm.mov(wide, s, Self.t1)
        case .cmpxchg:
            asm.alu(.subs, wide, .zr, Self.t1, r0)
            asm.b(.ne, done)
            asm.storeExclusive(wide, status: Self.t3, s, addr)
            asm.compareBranch(nonzero: true, false, Self.t3, retry)
            asm.bind(done)
            asm.barrier()
            asm.mov(wide, r0, Self.t1)
        }
    }

    /// `bpf_map_lookup_elem` on an array map, without the call (the kernel's
    /// `array_map_gen_lookup`): r0 = base + key·stride, or 0 when the key is out of range.
    private mutating func inlineArrayLookup(_ array: ArrayLayout) {
        let missing = asm.makeLabel(), done = asm.makeLabel()
        asm.memory(load: true, size: 4, Self.t0, Self.r(2), 0, scratch: Self.t4)
        asm.movImmediate(false, Self.t1, UInt64(array.count))
        asm.alu(.subs, false, .zr, Self.t0, Self.t1)
        asm.b(.hs, missing)
        asm.movImmediate(true, Self.t1, UInt64(array.stride))
        asm.mul(true, Self.t0, Self.t0, Self.t1)
        asm.movImmediate(true, Self.t1, array.base)
        asm.alu(.add, true, Self.r(0), Self.t1, Self.t0)
        asm.b(done)
        asm.bind(missing)
        asm.movImmediate(true, Self.r(0), 0)
        asm.bind(done)
    }

    /// Calls the helper whose address is in `target`: r1–r5 are already x0–x4, the helper
    /// context goes in x5, the result comes back in x0.
    private mutating func callHelper(_ target: A64Register) {
        load(Self.contextArgument, JITRuntimeBlock.helperContext)
        asm.blr(target)
        asm.mov(true, Self.r(0), A64Register(0))
    }

    /// `LD_ABS`/`LD_IND`: r0 = the big-endian bytes of the socket buffer in r6 at imm (+ rS),
    /// through the runtime block's `loadPacket`; out of the packet, the program returns 0.
    private mutating func loadPacket(_ insn: DecodedInstruction) {
        let size: UInt64
        switch insn.op {
        case .ldabsb, .ldindb: size = 1
        case .ldabsh, .ldindh: size = 2
        default: size = 4
        }
        if insn.op == .ldindb || insn.op == .ldindh || insn.op == .ldindw {
            asm.extend(signed: true, bits: 32, true, Self.t0, Self.r(insn.src))
            asm.movImmediate(true, Self.t1, UInt64(bitPattern: insn.imm))
            asm.alu(.add, true, A64Register(1), Self.t0, Self.t1)
        } else {
            asm.movImmediate(true, A64Register(1), UInt64(bitPattern: insn.imm))
        }
        asm.mov(true, A64Register(0), Self.r(6))
        asm.movImmediate(true, A64Register(2), size)
        asm.mov(true, A64Register(3), Self.runtimeRegister)
        load(Self.t0, JITRuntimeBlock.loadPacketFunction)
        asm.blr(Self.t0)
        load(Self.t0, JITRuntimeBlock.errorKind)
        asm.compareBranch(nonzero: true, true, Self.t0, returnZero)
        asm.mov(true, Self.r(0), A64Register(0))
        for reg in 0...4 { asm.movImmediate(true, A64Register(UInt8(reg)), 0) }  // like a call, it clobbers r1-r5
    }

    /// `bpf_tail_call(ctx, map, index)`: the runtime block's `tailCallTarget` finds the slot's
    /// native entry and counts the call; the jump reuses this frame. On failure every register
    /// is as before and execution continues.
    private mutating func tailCall() {
        asm.push(A64Register(0), A64Register(1))
        asm.push(A64Register(2), A64Register(3))
        asm.push(A64Register(4), Self.r(0))
        asm.mov(true, A64Register(0), A64Register(1))
        asm.mov(true, A64Register(1), A64Register(2))
        asm.mov(true, A64Register(2), Self.runtimeRegister)
        load(Self.t0, JITRuntimeBlock.tailCallFunction)
        asm.blr(Self.t0)
        asm.mov(true, Self.t0, A64Register(0))
        asm.pop(A64Register(4), Self.r(0))
        asm.pop(A64Register(2), A64Register(3))
        asm.pop(A64Register(0), A64Register(1))
        let fallThrough = asm.makeLabel()
        asm.compareBranch(nonzero: false, true, Self.t0, fallThrough)
        asm.br(Self.t0)
        asm.bind(fallThrough)
    }
}

import BPFCore

/// Instruction selection for x86-64: BPF operations to ``X86Assembler`` calls.
///
/// Register mapping (the kernel's, so helper calls need no shuffling): r0 → rax, r1–r5 → rdi,
/// rsi, rdx, rcx, r8 (the System V argument registers), r6–r9 → rbx, r13, r14, r15 (callee-saved,
/// so they survive helper calls), r10 → rbp. r12 holds the run's ``JITRuntimeBlock`` throughout;
/// r9, r10 and r11 are scratch.
///
/// Layout of the emitted code:
/// - a trampoline, the entry point `(r1, r2, runtime) -> r0`: saves the host's callee-saved
///   registers, records the stack pointer for unwinding, zeroes the BPF registers, calls the
///   main function;
/// - one native function per BPF function (the main program and each bpf-to-bpf call target),
///   each with the same frame: `push rbp; mov rbp, rsp; sub rsp, 512; push rbx, r13, r14, r15`,
///   so BPF r10 is rbp, r6–r9 are preserved across calls, and one shared epilogue serves every
///   `exit`;
/// - out-of-line stubs for run-time errors, which store what happened in the runtime block and
///   unwind to the trampoline.
struct X86CodeGenerator {
    /// BPF register → x86 register.
    static let registers: [X86Register] = [.rax, .rdi, .rsi, .rdx, .rcx, .r8, .rbx, .r13, .r14, .r15, .rbp]
    /// Bytes a BPF function's native frame takes: return address, rbp, 512 bytes of BPF stack,
    /// four saved registers.
    static let frameSize = 8 + 8 + BPFLimits.stackSize + 32

    private let code: [DecodedInstruction]
    private let helperAddresses: [UInt]
    private let facts: ProgramFacts
    private var blinding: ConstantBlinding?
    var asm: X86Assembler

    private var pcLabels: [X86Label] = []
    private var functionLabels: [Int: X86Label] = [:]
    private var epilogue: X86Label
    private var unwind: X86Label
    private var returnZero: X86Label
    /// Where the trampoline restores the host's registers and returns.
    private var trampolineExit: X86Label
    /// Error stubs to emit after the code: label, BPF pc, kind, and a register to report.
    private var stubs: [(label: X86Label, pc: Int, kind: JITRuntimeBlock.ErrorKind, register: X86Register?)] = []
    /// Native offset where each BPF instruction's code starts.
    private(set) var instructionOffsets: [Int] = []
    /// Native offset of the main function's body: where tail calls into this program land.
    private(set) var tailCallEntry = 0

    init(
        code: [DecodedInstruction], helperAddresses: [UInt], arrays: [UInt64: ArrayLayout], blinding: ConstantBlinding?,
        listing: Bool, shortJumps: Set<Int>
    ) {
        self.code = code
        self.helperAddresses = helperAddresses
        facts = ProgramFacts(code, arrays: arrays)
        self.blinding = blinding
        asm = X86Assembler(listing: listing, shortJumps: shortJumps)
        epilogue = asm.makeLabel()
        unwind = asm.makeLabel()
        returnZero = asm.makeLabel()
        trampolineExit = asm.makeLabel()
    }

    private static func r(_ bpf: UInt8) -> X86Register { registers[Int(bpf)] }

    private func runtime(_ field: Int32) -> X86Memory { X86Memory(.r12, field) }

    // MARK: - Whole program

    mutating func generate() {
        pcLabels = code.indices.map { _ in asm.makeLabel() }
        for entry in facts.functionEntries { functionLabels[entry] = asm.makeLabel() }

        emitTrampoline()
        instructionOffsets = Array(repeating: 0, count: code.count)
        for pc in code.indices {
            if let function = functionLabels[pc] {
                // Code that runs into a function from above continues in its body, as the
                // interpreter does; only calls enter through the prologue.
                if pc != 0 { asm.jump(to: pcLabels[pc]) }
                asm.bind(function)
                emitPrologue()
                if pc == 0 { tailCallEntry = asm.offset }
            }
            asm.bind(pcLabels[pc])
            instructionOffsets[pc] = asm.offset
            lower(pc)
        }
        // Falling off the end is impossible for validated code; the epilogue follows anyway.
        asm.bind(epilogue)
        asm.pop(.r15); asm.pop(.r14); asm.pop(.r13); asm.pop(.rbx)
        asm.leave()
        asm.ret()
        emitStubs()
    }

    private mutating func emitTrampoline() {
        // Host callee-saved registers, plus 8 bytes to keep rsp 16-byte aligned at calls.
        for reg in [X86Register.rbp, .rbx, .r12, .r13, .r14, .r15] { asm.push(reg) }
        asm.alu(.sub, .qword, .register(.rsp), immediate: 8)
        asm.mov(.qword, .r12, .rdx)
        asm.store(.qword, runtime(JITRuntimeBlock.savedStack), .rsp)
        // A call may go deeper only while rsp is at or above this: 8 frames in all.
        asm.lea(.r11, X86Memory(.rsp, Int32(-(BPFLimits.maxCallFrames - 1) * Self.frameSize)))
        asm.store(.qword, runtime(JITRuntimeBlock.stackLimit), .r11)
        asm.storeImmediate(.qword, runtime(JITRuntimeBlock.tailCalls), 0)
        for reg in [X86Register.rax, .rdx, .rcx, .r8, .rbx, .r13, .r14, .r15] { asm.movImmediate(reg, 0) }
        asm.call(functionLabels[0]!)
        asm.bind(trampolineExit)
        asm.alu(.add, .qword, .register(.rsp), immediate: 8)
        for reg in [X86Register.r15, .r14, .r13, .r12, .rbx, .rbp] { asm.pop(reg) }
        asm.ret()
    }

    private mutating func emitPrologue() {
        asm.push(.rbp)
        asm.mov(.qword, .rbp, .rsp)
        asm.alu(.sub, .qword, .register(.rsp), immediate: Int32(BPFLimits.stackSize))
        asm.push(.rbx); asm.push(.r13); asm.push(.r14); asm.push(.r15)
    }

    private mutating func emitStubs() {
        for stub in stubs {
            asm.bind(stub.label)
            asm.storeImmediate(.qword, runtime(JITRuntimeBlock.errorKind), Int32(stub.kind.rawValue))
            asm.storeImmediate(.qword, runtime(JITRuntimeBlock.errorPC), Int32(stub.pc))
            if let reg = stub.register { asm.store(.qword, runtime(JITRuntimeBlock.errorValue), reg) }
            asm.jump(to: unwind)
        }
        asm.bind(returnZero)
        asm.movImmediate(.rax, 0)
        asm.bind(unwind)
        asm.load(.qword, .rsp, runtime(JITRuntimeBlock.savedStack))
        asm.jump(to: trampolineExit)
        for _ in 0..<4 { asm.trap() }
    }

    private mutating func stub(_ pc: Int, _ kind: JITRuntimeBlock.ErrorKind, register: X86Register? = nil) -> X86Label {
        let label = asm.makeLabel()
        stubs.append((label, pc, kind, register))
        return label
    }

    // MARK: - Immediates

    /// Puts the sign-extended `value` in `reg` without the value appearing in the code
    /// (`mov reg, value ^ key; xor reg, key`).
    private mutating func blind(_ value: Int32, into reg: X86Register) {
        let key = blinding!.nextKey()
        asm.movImmediate(reg, UInt64(bitPattern: Int64(value ^ key)))
        asm.alu(.xor, .qword, .register(reg), immediate: key)
    }

    /// `op dst, imm`, blinded when blinding is on.
    private mutating func aluImmediate(_ op: X86ALU, _ width: X86Width, _ dst: X86Register, _ imm: Int64) {
        let value = Int32(truncatingIfNeeded: imm)
        if blinding != nil {
            blind(value, into: .r10)
            asm.alu(op, width, .register(dst), .r10)
        } else {
            asm.alu(op, width, .register(dst), immediate: value)
        }
    }

    // MARK: - One instruction

    private mutating func lower(_ pc: Int) {
        let insn = code[pc]
        let d = Self.r(insn.dst), s = Self.r(insn.src)
        let imm = insn.imm
        let mem = { (base: X86Register) in X86Memory(base, insn.offset) }
        switch insn.op {
        // MARK: ALU
        case .add64i: aluImmediate(.add, .qword, d, imm)
        case .sub64i: aluImmediate(.sub, .qword, d, imm)
        case .or64i: aluImmediate(.or, .qword, d, imm)
        case .and64i: aluImmediate(.and, .qword, d, imm)
        case .xor64i: aluImmediate(.xor, .qword, d, imm)
        case .add32i: aluImmediate(.add, .dword, d, imm)
        case .sub32i: aluImmediate(.sub, .dword, d, imm)
        case .or32i: aluImmediate(.or, .dword, d, imm)
        case .and32i: aluImmediate(.and, .dword, d, imm)
        case .xor32i: aluImmediate(.xor, .dword, d, imm)
        case .add64r: asm.alu(.add, .qword, .register(d), s)
        case .sub64r: asm.alu(.sub, .qword, .register(d), s)
        case .or64r: asm.alu(.or, .qword, .register(d), s)
        case .and64r: asm.alu(.and, .qword, .register(d), s)
        case .xor64r: asm.alu(.xor, .qword, .register(d), s)
        case .add32r: asm.alu(.add, .dword, .register(d), s)
        case .sub32r: asm.alu(.sub, .dword, .register(d), s)
        case .or32r: asm.alu(.or, .dword, .register(d), s)
        case .and32r: asm.alu(.and, .dword, .register(d), s)
        case .xor32r: asm.alu(.xor, .dword, .register(d), s)
        case .mul64r: asm.imul(.qword, d, s)
        case .mul32r: asm.imul(.dword, d, s)
        case .mul64i, .mul32i:
            let width: X86Width = insn.op == .mul64i ? .qword : .dword
            if blinding != nil {
                blind(Int32(truncatingIfNeeded: imm), into: .r10)
                asm.imul(width, d, .r10)
            } else {
                asm.imul(width, d, d, immediate: Int32(truncatingIfNeeded: imm))
            }
        case .mov64r: asm.mov(.qword, d, s)
        case .mov32r: asm.mov(.dword, d, s)
        case .mov64i:
            if blinding != nil { blind(Int32(truncatingIfNeeded: imm), into: d) } else { asm.movImmediate(d, UInt64(bitPattern: imm)) }
        case .mov32i:
            if blinding != nil {
                blind(Int32(truncatingIfNeeded: imm), into: d)
                asm.mov(.dword, d, d)
            } else {
                asm.movImmediate(d, UInt64(UInt32(truncatingIfNeeded: imm)))
            }
        case .neg64: asm.neg(.qword, d)
        case .neg32: asm.neg(.dword, d)
        case .movsx8to64: asm.movsx(.byte, to: .qword, d, s)
        case .movsx16to64: asm.movsx(.word, to: .qword, d, s)
        case .movsx32to64: asm.movsx(.dword, to: .qword, d, s)
        case .movsx8to32: asm.movsx(.byte, to: .dword, d, s)
        case .movsx16to32: asm.movsx(.word, to: .dword, d, s)

        case .lsh64i: asm.shift(.shl, .qword, d, immediate: UInt8(imm & 63))
        case .rsh64i: asm.shift(.shr, .qword, d, immediate: UInt8(imm & 63))
        case .arsh64i: asm.shift(.sar, .qword, d, immediate: UInt8(imm & 63))
        case .lsh32i, .rsh32i, .arsh32i:
            let count = UInt8(imm & 31)
            // A 32-bit shift by 0 need not clear the upper half; the BPF result is zero-extended.
            if count == 0 { asm.mov(.dword, d, d); break }
            asm.shift(insn.op == .lsh32i ? .shl : insn.op == .rsh32i ? .shr : .sar, .dword, d, immediate: count)
        case .lsh64r: shiftByRegister(.shl, .qword, d, s)
        case .rsh64r: shiftByRegister(.shr, .qword, d, s)
        case .arsh64r: shiftByRegister(.sar, .qword, d, s)
        case .lsh32r: shiftByRegister(.shl, .dword, d, s)
        case .rsh32r: shiftByRegister(.shr, .dword, d, s)
        case .arsh32r: shiftByRegister(.sar, .dword, d, s)

        case .div64i: divide(.qword, d, immediate: imm, signed: false, modulo: false)
        case .div64r: divide(.qword, d, register: s, signed: false, modulo: false)
        case .sdiv64i: divide(.qword, d, immediate: imm, signed: true, modulo: false)
        case .sdiv64r: divide(.qword, d, register: s, signed: true, modulo: false)
        case .mod64i: divide(.qword, d, immediate: imm, signed: false, modulo: true)
        case .mod64r: divide(.qword, d, register: s, signed: false, modulo: true)
        case .smod64i: divide(.qword, d, immediate: imm, signed: true, modulo: true)
        case .smod64r: divide(.qword, d, register: s, signed: true, modulo: true)
        case .div32i: divide(.dword, d, immediate: imm, signed: false, modulo: false)
        case .div32r: divide(.dword, d, register: s, signed: false, modulo: false)
        case .sdiv32i: divide(.dword, d, immediate: imm, signed: true, modulo: false)
        case .sdiv32r: divide(.dword, d, register: s, signed: true, modulo: false)
        case .mod32i: divide(.dword, d, immediate: imm, signed: false, modulo: true)
        case .mod32r: divide(.dword, d, register: s, signed: false, modulo: true)
        case .smod32i: divide(.dword, d, immediate: imm, signed: true, modulo: true)
        case .smod32r: divide(.dword, d, register: s, signed: true, modulo: true)

        // MARK: byte order
        case .zext16: asm.movzx(.word, d, d)
        case .zext32: asm.mov(.dword, d, d)
        case .nop: break
        case .swap16:
            asm.shift(.ror, .word, d, immediate: 8)
            asm.movzx(.word, d, d)
        case .swap32: asm.bswap(.dword, d)
        case .swap64: asm.bswap(.qword, d)

        // MARK: memory
        case .ldxb: asm.load(.byte, d, mem(s))
        case .ldxh: asm.load(.word, d, mem(s))
        case .ldxw: asm.load(.dword, d, mem(s))
        case .ldxdw: asm.load(.qword, d, mem(s))
        case .ldxsb: asm.load(.byte, d, mem(s), signed: true)
        case .ldxsh: asm.load(.word, d, mem(s), signed: true)
        case .ldxsw: asm.load(.dword, d, mem(s), signed: true)
        case .stb: storeImmediate(.byte, mem(d), imm)
        case .sth: storeImmediate(.word, mem(d), imm)
        case .stw: storeImmediate(.dword, mem(d), imm)
        case .stdw: storeImmediate(.qword, mem(d), imm)
        case .stxb: asm.store(.byte, mem(d), s)
        case .stxh: asm.store(.word, mem(d), s)
        case .stxw: asm.store(.dword, mem(d), s)
        case .stxdw: asm.store(.qword, mem(d), s)

        case .atomicAdd32: asm.lockALU(.add, .dword, mem(d), s)
        case .atomicOr32: asm.lockALU(.or, .dword, mem(d), s)
        case .atomicAnd32: asm.lockALU(.and, .dword, mem(d), s)
        case .atomicXor32: asm.lockALU(.xor, .dword, mem(d), s)
        case .atomicAdd64: asm.lockALU(.add, .qword, mem(d), s)
        case .atomicOr64: asm.lockALU(.or, .qword, mem(d), s)
        case .atomicAnd64: asm.lockALU(.and, .qword, mem(d), s)
        case .atomicXor64: asm.lockALU(.xor, .qword, mem(d), s)
        case .fetchAdd32: asm.lockXadd(.dword, mem(d), s)
        case .fetchAdd64: asm.lockXadd(.qword, mem(d), s)
        case .xchg32: asm.xchg(.dword, mem(d), s)
        case .xchg64: asm.xchg(.qword, mem(d), s)
        case .cmpxchg32:
            asm.lockCmpxchg(.dword, mem(d), s)
            asm.mov(.dword, .rax, .rax)  // r0 is the old value, zero-extended, in both outcomes
        case .cmpxchg64: asm.lockCmpxchg(.qword, mem(d), s)
        case .fetchOr32: fetchLoop(.or, .dword, mem(d), s)
        case .fetchAnd32: fetchLoop(.and, .dword, mem(d), s)
        case .fetchXor32: fetchLoop(.xor, .dword, mem(d), s)
        case .fetchOr64: fetchLoop(.or, .qword, mem(d), s)
        case .fetchAnd64: fetchLoop(.and, .qword, mem(d), s)
        case .fetchXor64: fetchLoop(.xor, .qword, mem(d), s)

        case .lddw:
            let value = UInt64(bitPattern: imm)
            if blinding != nil {
                let key = blinding!.nextWideKey()
                asm.movabs(d, value ^ key)
                asm.movabs(.r10, key)
                asm.alu(.xor, .qword, .register(d), .r10)
            } else {
                asm.movImmediate(d, value)
            }

        case .ldabsb, .ldabsh, .ldabsw, .ldindb, .ldindh, .ldindw:
            loadPacket(pc, insn)

        // MARK: jumps
        case .ja: asm.jump(to: pcLabels[Int(insn.offset)])
        case .jeq64i: compareImmediate(pc, .qword, .e)
        case .jne64i: compareImmediate(pc, .qword, .ne)
        case .jgt64i: compareImmediate(pc, .qword, .a)
        case .jge64i: compareImmediate(pc, .qword, .ae)
        case .jlt64i: compareImmediate(pc, .qword, .b)
        case .jle64i: compareImmediate(pc, .qword, .be)
        case .jsgt64i: compareImmediate(pc, .qword, .g)
        case .jsge64i: compareImmediate(pc, .qword, .ge)
        case .jslt64i: compareImmediate(pc, .qword, .l)
        case .jsle64i: compareImmediate(pc, .qword, .le)
        case .jset64i: compareImmediate(pc, .qword, .ne, test: true)
        case .jeq32i: compareImmediate(pc, .dword, .e)
        case .jne32i: compareImmediate(pc, .dword, .ne)
        case .jgt32i: compareImmediate(pc, .dword, .a)
        case .jge32i: compareImmediate(pc, .dword, .ae)
        case .jlt32i: compareImmediate(pc, .dword, .b)
        case .jle32i: compareImmediate(pc, .dword, .be)
        case .jsgt32i: compareImmediate(pc, .dword, .g)
        case .jsge32i: compareImmediate(pc, .dword, .ge)
        case .jslt32i: compareImmediate(pc, .dword, .l)
        case .jsle32i: compareImmediate(pc, .dword, .le)
        case .jset32i: compareImmediate(pc, .dword, .ne, test: true)
        case .jeq64r: compareRegisters(pc, .qword, .e)
        case .jne64r: compareRegisters(pc, .qword, .ne)
        case .jgt64r: compareRegisters(pc, .qword, .a)
        case .jge64r: compareRegisters(pc, .qword, .ae)
        case .jlt64r: compareRegisters(pc, .qword, .b)
        case .jle64r: compareRegisters(pc, .qword, .be)
        case .jsgt64r: compareRegisters(pc, .qword, .g)
        case .jsge64r: compareRegisters(pc, .qword, .ge)
        case .jslt64r: compareRegisters(pc, .qword, .l)
        case .jsle64r: compareRegisters(pc, .qword, .le)
        case .jset64r: compareRegisters(pc, .qword, .ne, test: true)
        case .jeq32r: compareRegisters(pc, .dword, .e)
        case .jne32r: compareRegisters(pc, .dword, .ne)
        case .jgt32r: compareRegisters(pc, .dword, .a)
        case .jge32r: compareRegisters(pc, .dword, .ae)
        case .jlt32r: compareRegisters(pc, .dword, .b)
        case .jle32r: compareRegisters(pc, .dword, .be)
        case .jsgt32r: compareRegisters(pc, .dword, .g)
        case .jsge32r: compareRegisters(pc, .dword, .ge)
        case .jslt32r: compareRegisters(pc, .dword, .l)
        case .jsle32r: compareRegisters(pc, .dword, .le)
        case .jset32r: compareRegisters(pc, .dword, .ne, test: true)

        // MARK: calls
        case .call:
            if imm == HelperID.mapLookupElem.rawValue, let array = facts.arrayInR1[pc] {
                inlineArrayLookup(array)
            } else {
                callHelper(address: helperAddresses[Int(imm)])
            }
        case .callx:
            // The id is known only now: bounds-check it and fetch the table entry.
            let unknown = stub(pc, .unknownHelper, register: d)
            asm.mov(.qword, .r11, d)
            asm.alu(.cmp, .qword, .register(.r11), immediate: Int32(HelperTable.capacity - 1))
            asm.jump(.a, to: unknown)
            asm.shift(.shl, .qword, .r11, immediate: 3)
            asm.alu(.add, .qword, .register(.r11), .r12)  // r11 = runtime + 8·id …
            asm.load(.qword, .r11, X86Memory(.r11, JITRuntimeBlock.helpers))  // … + the table's offset
            asm.test(.qword, .r11, .r11)
            asm.jump(.e, to: unknown)
            asm.load(.qword, .r9, runtime(JITRuntimeBlock.helperContext))
            asm.call(.r11)
        case .callLocal:
            // Below the limit, this call would make a ninth frame.
            asm.alu(.cmp, .qword, .memory(runtime(JITRuntimeBlock.stackLimit)), .rsp)
            asm.jump(.a, to: stub(pc, .callDepth))
            asm.call(functionLabels[Int(insn.offset)]!)
        case .exit:
            if pc + 1 < code.count { asm.jump(to: epilogue) }  // the last one falls into it
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

    private mutating func storeImmediate(_ width: X86Width, _ mem: X86Memory, _ imm: Int64) {
        if blinding != nil {
            blind(Int32(truncatingIfNeeded: imm), into: .r10)
            asm.store(width, mem, .r10)
        } else {
            asm.storeImmediate(width, mem, Int32(truncatingIfNeeded: imm))
        }
    }

    private mutating func compareImmediate(_ pc: Int, _ width: X86Width, _ condition: X86Condition, test: Bool = false) {
        let insn = code[pc]
        let d = Self.r(insn.dst)
        let value = Int32(truncatingIfNeeded: insn.imm)
        if test {
            if blinding != nil {
                blind(value, into: .r10)
                asm.test(width, d, .r10)
            } else {
                asm.test(width, d, immediate: value)
            }
        } else if value == 0 && (condition == .e || condition == .ne) && blinding == nil {
            asm.test(width, d, d)
        } else {
            aluImmediate(.cmp, width, d, insn.imm)
        }
        asm.jump(condition, to: pcLabels[Int(insn.offset)])
    }

    private mutating func compareRegisters(_ pc: Int, _ width: X86Width, _ condition: X86Condition, test: Bool = false) {
        let insn = code[pc]
        let d = Self.r(insn.dst), s = Self.r(insn.src)
        if test { asm.test(width, d, s) } else { asm.alu(.cmp, width, .register(d), s) }
        asm.jump(condition, to: pcLabels[Int(insn.offset)])
    }

    /// Shifts need their count in cl, and cl is BPF r4's: borrow it through r11.
    private mutating func shiftByRegister(_ op: X86Shift, _ width: X86Width, _ d: X86Register, _ s: X86Register) {
        if s == .rcx {
            asm.shiftByCL(op, width, d)
        } else {
            asm.mov(.qword, .r11, .rcx)
            asm.mov(.qword, .rcx, s)
            if d == .rcx {
                asm.shiftByCL(op, width, .r11)  // r11 holds the old rcx, which is rD
                asm.mov(.qword, .rcx, .r11)
            } else {
                asm.shiftByCL(op, width, d)
                asm.mov(.qword, .rcx, .r11)
            }
        }
        if width == .dword { asm.mov(.dword, d, d) }  // a count of 0 need not clear the upper half
    }

    private mutating func divide(_ width: X86Width, _ d: X86Register, immediate: Int64, signed: Bool, modulo: Bool) {
        let value = Int32(truncatingIfNeeded: immediate)
        if blinding != nil { blind(value, into: .r11) } else { asm.movImmediate(.r11, UInt64(bitPattern: Int64(value))) }
        divide(width, d, divisorKnownNonzero: true, mayBeMinusOne: signed && value == -1, signed: signed, modulo: modulo)
    }

    private mutating func divide(_ width: X86Width, _ d: X86Register, register s: X86Register, signed: Bool, modulo: Bool) {
        asm.mov(.qword, .r11, s)
        divide(width, d, divisorKnownNonzero: false, mayBeMinusOne: signed, signed: signed, modulo: modulo)
    }

    /// rD = rD / r11 or rD % r11 with the kernel's results for a zero divisor (quotient 0,
    /// remainder the dividend) and for a signed divisor of -1 (negation, remainder 0 — `idiv`
    /// would trap on `INT_MIN / -1`). rax and rdx are borrowed through r10 and r9.
    private mutating func divide(_ width: X86Width, _ d: X86Register, divisorKnownNonzero: Bool, mayBeMinusOne: Bool, signed: Bool, modulo: Bool) {
        let done = asm.makeLabel()
        if !divisorKnownNonzero {
            let nonzero = asm.makeLabel()
            asm.test(width, .r11, .r11)
            asm.jump(.ne, to: nonzero)
            if !modulo { asm.movImmediate(d, 0) } else if width == .dword { asm.mov(.dword, d, d) }
            asm.jump(to: done)
            asm.bind(nonzero)
        }
        if mayBeMinusOne {
            let ordinary = asm.makeLabel()
            asm.alu(.cmp, width, .register(.r11), immediate: -1)
            asm.jump(.ne, to: ordinary)
            if modulo { asm.movImmediate(d, 0) } else { asm.neg(width, d) }
            asm.jump(to: done)
            asm.bind(ordinary)
        }
        asm.mov(.qword, .r10, .rax)
        asm.mov(.qword, .r9, .rdx)
        asm.mov(.qword, .rax, d)
        if signed { asm.signExtendAccumulator(width) } else { asm.movImmediate(.rdx, 0) }
        asm.divide(width, .r11, signed: signed)
        asm.mov(.qword, .r11, modulo ? .rdx : .rax)
        asm.mov(.qword, .rax, .r10)
        asm.mov(.qword, .rdx, .r9)
        asm.mov(.qword, d, .r11)
        asm.bind(done)
    }

    /// fetch_or/and/xor: a `lock cmpxchg` loop. The address goes to r9 first (the base may be
    /// rax, which cmpxchg needs), r0 is kept in r10, the old value ends in rS.
    private mutating func fetchLoop(_ op: X86ALU, _ width: X86Width, _ mem: X86Memory, _ s: X86Register) {
        asm.lea(.r9, mem)
        asm.mov(.qword, .r10, .rax)
        let retry = asm.makeLabel()
        asm.bind(retry)
        asm.load(width, .rax, X86Memory(.r9))
        asm.mov(.qword, .r11, .rax)
        asm.alu(op, width, .register(.r11), s == .rax ? .r10 : s)
        asm.lockCmpxchg(width, X86Memory(.r9), .r11)
        asm.jump(.ne, to: retry)
        asm.mov(.qword, .r11, .rax)
        asm.mov(.qword, .rax, .r10)
        asm.mov(.qword, s, .r11)
    }

    /// `bpf_map_lookup_elem` on an array map, without the call (the kernel's
    /// `array_map_gen_lookup`): r0 = base + key·stride, or 0 when the key is out of range.
    private mutating func inlineArrayLookup(_ array: ArrayLayout) {
        let missing = asm.makeLabel(), done = asm.makeLabel()
        asm.load(.dword, .rax, X86Memory(.rsi))
        asm.alu(.cmp, .dword, .register(.rax), immediate: Int32(array.count))
        asm.jump(.ae, to: missing)
        asm.imul(.qword, .rax, .rax, immediate: Int32(array.stride))
        asm.movabs(.r11, array.base)
        asm.alu(.add, .qword, .register(.rax), .r11)
        asm.jump(to: done)
        asm.bind(missing)
        asm.movImmediate(.rax, 0)
        asm.bind(done)
    }

    private mutating func callHelper(address: UInt) {
        asm.load(.qword, .r9, runtime(JITRuntimeBlock.helperContext))
        asm.movabs(.r11, UInt64(address))
        asm.call(.r11)
    }

    /// `LD_ABS`/`LD_IND`: r0 = the big-endian bytes of the socket buffer in r6 at imm (+ rS),
    /// through ``JITRuntime/loadPacket``; out of the packet, the program returns 0.
    private mutating func loadPacket(_ pc: Int, _ insn: DecodedInstruction) {
        let size: Int32
        switch insn.op {
        case .ldabsb, .ldindb: size = 1
        case .ldabsh, .ldindh: size = 2
        default: size = 4
        }
        let indirect = insn.op == .ldindb || insn.op == .ldindh || insn.op == .ldindw
        if indirect {
            asm.movsx(.dword, to: .qword, .r11, Self.r(insn.src))
            asm.alu(.add, .qword, .register(.r11), immediate: Int32(truncatingIfNeeded: insn.imm))
            asm.mov(.qword, .rsi, .r11)
        } else {
            asm.movImmediate(.rsi, UInt64(bitPattern: insn.imm))
        }
        asm.mov(.qword, .rdi, .rbx)
        asm.movImmediate(.rdx, UInt64(size))
        asm.mov(.qword, .rcx, .r12)
        asm.movabs(.r11, UInt64(UInt(bitPattern: unsafeBitCast(JITRuntime.loadPacket, to: UnsafeRawPointer.self))))
        asm.call(.r11)
        asm.alu(.cmp, .qword, .memory(runtime(JITRuntimeBlock.errorKind)), immediate: 0)
        asm.jump(.ne, to: returnZero)
        for reg in [X86Register.rdi, .rsi, .rdx, .rcx, .r8] { asm.movImmediate(reg, 0) }  // like a call, it clobbers r1-r5
    }

    /// `bpf_tail_call(ctx, map, index)`: ``JITRuntime/tailCallTarget`` finds the slot's native
    /// entry and counts the call; the jump reuses this frame. On failure every register is
    /// as before and execution continues.
    private mutating func tailCall() {
        let saved: [X86Register] = [.rdi, .rsi, .rdx, .rcx, .r8, .rax]  // 48 bytes: rsp stays aligned
        for reg in saved { asm.push(reg) }
        asm.mov(.qword, .rdi, .rsi)
        asm.mov(.qword, .rsi, .rdx)
        asm.mov(.qword, .rdx, .r12)
        asm.movabs(.r11, UInt64(UInt(bitPattern: unsafeBitCast(JITRuntime.tailCallTarget, to: UnsafeRawPointer.self))))
        asm.call(.r11)
        asm.mov(.qword, .r11, .rax)
        for reg in saved.reversed() { asm.pop(reg) }
        let fallThrough = asm.makeLabel()
        asm.test(.qword, .r11, .r11)
        asm.jump(.e, to: fallThrough)
        asm.jump(.r11)
        asm.bind(fallThrough)
    }
}

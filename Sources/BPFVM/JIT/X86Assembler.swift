/// The x86-64 general-purpose registers, numbered as the encoding numbers them.
enum X86Register: UInt8, CaseIterable {
    case rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15

    /// The low three bits that go into ModRM/SIB/opcode.
    var low: UInt8 { rawValue & 7 }
    /// Whether the register needs a REX extension bit.
    var extended: Bool { rawValue >= 8 }

    func name(_ width: X86Width) -> String {
        let legacy = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"]
        if extended {
            let n = "r\(rawValue)"
            switch width {
            case .byte: return n + "b"
            case .word: return n + "w"
            case .dword: return n + "d"
            case .qword: return n
            }
        }
        let base = legacy[Int(rawValue)]
        switch width {
        case .byte: return rawValue < 4 ? String(base.first!) + "l" : base + "l"
        case .word: return base
        case .dword: return "e" + base
        case .qword: return "r" + base
        }
    }
}

/// Operand sizes.
enum X86Width: Int {
    case byte = 1, word = 2, dword = 4, qword = 8

    var pointerName: String {
        switch self {
        case .byte: "byte ptr"
        case .word: "word ptr"
        case .dword: "dword ptr"
        case .qword: "qword ptr"
        }
    }
}

/// A memory operand `[base + disp]`.
struct X86Memory {
    var base: X86Register
    var displacement: Int32

    init(_ base: X86Register, _ displacement: Int32 = 0) {
        self.base = base
        self.displacement = displacement
    }

    var text: String {
        displacement == 0
            ? "[\(base.name(.qword))]"
            : displacement < 0 ? "[\(base.name(.qword)) - \(-Int64(displacement))]" : "[\(base.name(.qword)) + \(displacement)]"
    }
}

/// An r/m operand: a register or memory.
enum X86Operand {
    case register(X86Register)
    case memory(X86Memory)

    func text(_ width: X86Width) -> String {
        switch self {
        case let .register(r): r.name(width)
        case let .memory(m): "\(width.pointerName) \(m.text)"
        }
    }
}

/// Condition codes, as the low nibble of `Jcc`.
enum X86Condition: UInt8 {
    case o, no, b, ae, e, ne, be, a, s, ns, p, np, l, ge, le, g
}

/// The ALU operations that share the `op r/m, r` and `81 /n` encodings.
enum X86ALU: UInt8 {
    case add = 0, or = 1, and = 4, sub = 5, xor = 6, cmp = 7

    var name: String {
        switch self {
        case .add: "add"
        case .or: "or"
        case .and: "and"
        case .sub: "sub"
        case .xor: "xor"
        case .cmp: "cmp"
        }
    }
}

/// The shift group (`C1 /n`, `D3 /n`).
enum X86Shift: UInt8 {
    case rol = 0, ror = 1, shl = 4, shr = 5, sar = 7

    var name: String {
        switch self {
        case .rol: "rol"
        case .ror: "ror"
        case .shl: "shl"
        case .shr: "shr"
        case .sar: "sar"
        }
    }
}

/// A position in the code that jumps can name before it is known.
struct X86Label: Hashable {
    let id: Int
}

/// The encoder: x86-64 machine code, one method per instruction form, knowing nothing of BPF.
/// Instruction selection (``X86CodeGenerator``) decides what to emit; this decides the bytes.
///
/// With `listing` on, each instruction is also recorded as Intel-syntax text (LLVM's spelling),
/// for `swiftbpf disasm --jited` and for tests that check the bytes with LLVM's disassembler.
struct X86Assembler {
    private(set) var bytes: [UInt8] = []
    /// (offset, text) of each instruction, when listing.
    private(set) var listing: [(offset: Int, text: String)]?

    private var labelOffsets: [Int?] = []
    /// rel32 (or rel8) fields to patch: where the field is, its size, its label, and the jump
    /// site (nil for calls).
    private var fixups: [(at: Int, size: Int, label: X86Label, site: Int?)] = []
    /// Jump sites whose distance fits in a byte, from the previous emission of the same code.
    private let shortJumps: Set<Int>
    /// Jump sites in emission order (the keys of `shortJumps`).
    private var jumpSites = 0
    /// After ``resolve()``: the distance of each long jump, by site, for choosing short forms
    /// in the next emission of the same code.
    private(set) var jumpDistances: [Int: Int] = [:]

    init(listing: Bool, shortJumps: Set<Int> = []) {
        self.listing = listing ? [] : nil
        self.shortJumps = shortJumps
        bytes.reserveCapacity(4096)
    }

    var offset: Int { bytes.count }

    // MARK: - Labels

    mutating func makeLabel() -> X86Label {
        labelOffsets.append(nil)
        return X86Label(id: labelOffsets.count - 1)
    }

    mutating func bind(_ label: X86Label) {
        labelOffsets[label.id] = bytes.count
    }

    /// Patches every jump and call; false when a short jump does not reach (which choosing
    /// short forms only where a long emission's distance fits rules out: distances only shrink).
    mutating func resolve() -> Bool {
        for fixup in fixups {
            let target = labelOffsets[fixup.label.id]!
            let displacement = target - (fixup.at + fixup.size)
            if let site = fixup.site, fixup.size == 4 { jumpDistances[site] = displacement }
            if fixup.size == 1 {
                guard let d = Int8(exactly: displacement) else { return false }
                bytes[fixup.at] = UInt8(bitPattern: d)
            } else {
                let d = UInt32(bitPattern: Int32(displacement))
                for i in 0..<4 { bytes[fixup.at + i] = UInt8(truncatingIfNeeded: d >> (8 * UInt32(i))) }
            }
        }
        // The listing names labels until now; show their offsets instead.
        if let entries = listing {
            listing = entries.map { entry in
                guard let space = entry.text.lastIndex(of: " "), entry.text[entry.text.index(after: space)...].hasPrefix("L"),
                    let id = Int(entry.text[entry.text.index(space, offsetBy: 2)...])
                else { return entry }
                return (entry.offset, entry.text[...space] + "0x" + String(labelOffsets[id]!, radix: 16))
            }
        }
        return true
    }

    // MARK: - Raw encoding

    private mutating func note(_ start: Int, _ text: @autoclosure () -> String) {
        if listing != nil { listing!.append((start, text())) }
    }

    private mutating func emit(_ b: UInt8) { bytes.append(b) }

    private mutating func emit32(_ v: Int32) {
        let u = UInt32(bitPattern: v)
        bytes.append(contentsOf: [
            UInt8(truncatingIfNeeded: u), UInt8(truncatingIfNeeded: u >> 8), UInt8(truncatingIfNeeded: u >> 16), UInt8(truncatingIfNeeded: u >> 24),
        ])
    }

    /// Emits [66] [REX] opcode ModRM [SIB] [disp] for `reg` (or an opcode extension) and `rm`.
    private mutating func emit(width: X86Width, opcode: [UInt8], reg: UInt8, rm: X86Operand, byteRegister: Bool = false, forceNoW: Bool = false) {
        if width == .word { emit(0x66) }
        var rex: UInt8 = 0
        if width == .qword && !forceNoW { rex |= 0x08 }
        if reg & 8 != 0 { rex |= 0x04 }
        switch rm {
        case let .register(r):
            if r.extended { rex |= 0x01 }
            if byteRegister && (4...7).contains(r.rawValue) { rex |= 0x40 }
        case let .memory(m):
            if m.base.extended { rex |= 0x01 }
        }
        // spl/bpl/sil/dil as the reg operand of a byte instruction need a REX prefix too.
        if byteRegister && (4...7).contains(reg) { rex |= 0x40 }
        if rex != 0 { emit(0x40 | rex) }
        bytes.append(contentsOf: opcode)
        let r = (reg & 7) << 3
        switch rm {
        case let .register(base):
            emit(0xC0 | r | base.low)
        case let .memory(m):
            let needsSIB = m.base.low == 4
            let mode: UInt8
            if m.displacement == 0 && m.base.low != 5 {
                mode = 0x00
            } else if Int8(exactly: m.displacement) != nil {
                mode = 0x40
            } else {
                mode = 0x80
            }
            emit(mode | r | m.base.low)
            if needsSIB { emit(0x24) }
            if mode == 0x40 { emit(UInt8(bitPattern: Int8(m.displacement))) }
            if mode == 0x80 { emit32(m.displacement) }
        }
    }

    /// A full-size immediate as LLVM prints it: unsigned at its width, signed for qword
    /// operations (where it is sign-extended).
    private static func shown(_ value: Int32, _ width: X86Width) -> Int64 {
        switch width {
        case .byte: Int64(Int8(truncatingIfNeeded: value))
        case .word: Int64(UInt16(truncatingIfNeeded: value))
        case .dword: Int64(UInt32(bitPattern: value))
        case .qword: Int64(value)
        }
    }

    // MARK: - Data movement

    /// `mov dst, src` (32-bit zero-extends).
    mutating func mov(_ width: X86Width, _ dst: X86Register, _ src: X86Register) {
        let start = offset
        emit(width: width, opcode: [0x89], reg: src.rawValue, rm: .register(dst))
        note(start, "mov \(dst.name(width)), \(src.name(width))")
    }

    /// `mov dst, imm`: the shortest form giving the 64-bit value `value` — `xor` for 0, a
    /// zero-extending 32-bit move, a sign-extended 32-bit immediate, or `movabs`.
    mutating func movImmediate(_ dst: X86Register, _ value: UInt64) {
        let start = offset
        if value == 0 {
            emit(width: .dword, opcode: [0x31], reg: dst.rawValue, rm: .register(dst))
            note(start, "xor \(dst.name(.dword)), \(dst.name(.dword))")
        } else if value <= UInt64(UInt32.max) {
            if dst.extended { emit(0x41) }
            emit(0xB8 + dst.low)
            emit32(Int32(bitPattern: UInt32(value)))
            note(start, "mov \(dst.name(.dword)), \(value)")
        } else if let s = Int32(exactly: Int64(bitPattern: value)) {
            emit(width: .qword, opcode: [0xC7], reg: 0, rm: .register(dst))
            emit32(s)
            note(start, "mov \(dst.name(.qword)), \(s)")
        } else {
            movabs(dst, value)
        }
    }

    mutating func movabs(_ dst: X86Register, _ value: UInt64) {
        let start = offset
        emit(dst.extended ? 0x49 : 0x48)
        emit(0xB8 + dst.low)
        for i in 0..<8 { emit(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
        note(start, "movabs \(dst.name(.qword)), \(Int64(bitPattern: value))")
    }

    /// `mov dst, [mem]`, with zero extension for bytes and words (`movzx`) and sign extension
    /// when `signed`.
    mutating func load(_ width: X86Width, _ dst: X86Register, _ mem: X86Memory, signed: Bool = false) {
        let start = offset
        let src = X86Operand.memory(mem)
        switch (width, signed) {
        case (.byte, false):
            emit(width: .dword, opcode: [0x0F, 0xB6], reg: dst.rawValue, rm: src)
            note(start, "movzx \(dst.name(.dword)), \(src.text(.byte))")
        case (.word, false):
            emit(width: .dword, opcode: [0x0F, 0xB7], reg: dst.rawValue, rm: src)
            note(start, "movzx \(dst.name(.dword)), \(src.text(.word))")
        case (.byte, true):
            emit(width: .qword, opcode: [0x0F, 0xBE], reg: dst.rawValue, rm: src)
            note(start, "movsx \(dst.name(.qword)), \(src.text(.byte))")
        case (.word, true):
            emit(width: .qword, opcode: [0x0F, 0xBF], reg: dst.rawValue, rm: src)
            note(start, "movsx \(dst.name(.qword)), \(src.text(.word))")
        case (.dword, true):
            emit(width: .qword, opcode: [0x63], reg: dst.rawValue, rm: src)
            note(start, "movsxd \(dst.name(.qword)), \(src.text(.dword))")
        case (.dword, false), (.qword, _):
            emit(width: width, opcode: [0x8B], reg: dst.rawValue, rm: src)
            note(start, "mov \(dst.name(width)), \(src.text(width))")
        }
    }

    /// `mov [mem], src` of the low `width` bytes of `src`.
    mutating func store(_ width: X86Width, _ mem: X86Memory, _ src: X86Register) {
        let start = offset
        emit(width: width, opcode: [width == .byte ? 0x88 : 0x89], reg: src.rawValue, rm: .memory(mem), byteRegister: width == .byte)
        note(start, "mov \(X86Operand.memory(mem).text(width)), \(src.name(width))")
    }

    /// `mov [mem], imm` (a qword store sign-extends the 32-bit immediate).
    mutating func storeImmediate(_ width: X86Width, _ mem: X86Memory, _ value: Int32) {
        let start = offset
        emit(width: width, opcode: [width == .byte ? 0xC6 : 0xC7], reg: 0, rm: .memory(mem))
        let shown: Int64
        switch width {
        case .byte:
            emit(UInt8(truncatingIfNeeded: value)); shown = Int64(Int8(truncatingIfNeeded: value))
        case .word:
            let v = UInt16(truncatingIfNeeded: value)
            emit(UInt8(truncatingIfNeeded: v)); emit(UInt8(truncatingIfNeeded: v >> 8)); shown = Self.shown(value, .word)
        case .dword, .qword:
            emit32(value); shown = Self.shown(value, width)
        }
        note(start, "mov \(X86Operand.memory(mem).text(width)), \(shown)")
    }

    /// `lea dst, [mem]`.
    mutating func lea(_ dst: X86Register, _ mem: X86Memory) {
        let start = offset
        emit(width: .qword, opcode: [0x8D], reg: dst.rawValue, rm: .memory(mem))
        note(start, "lea \(dst.name(.qword)), \(mem.text)")
    }

    /// `movzx dst32, src8/src16`.
    mutating func movzx(_ from: X86Width, _ dst: X86Register, _ src: X86Register) {
        let start = offset
        emit(width: .dword, opcode: [0x0F, from == .byte ? 0xB6 : 0xB7], reg: dst.rawValue, rm: .register(src), byteRegister: from == .byte)
        note(start, "movzx \(dst.name(.dword)), \(src.name(from))")
    }

    /// `movsx dst, src` from `from` bits to `to` (dword or qword); `movsxd` for dword → qword.
    mutating func movsx(_ from: X86Width, to: X86Width, _ dst: X86Register, _ src: X86Register) {
        let start = offset
        if from == .dword {
            emit(width: .qword, opcode: [0x63], reg: dst.rawValue, rm: .register(src))
            note(start, "movsxd \(dst.name(.qword)), \(src.name(.dword))")
        } else {
            emit(width: to, opcode: [0x0F, from == .byte ? 0xBE : 0xBF], reg: dst.rawValue, rm: .register(src), byteRegister: from == .byte)
            note(start, "movsx \(dst.name(to)), \(src.name(from))")
        }
    }

    mutating func push(_ r: X86Register) {
        let start = offset
        if r.extended { emit(0x41) }
        emit(0x50 + r.low)
        note(start, "push \(r.name(.qword))")
    }

    mutating func pop(_ r: X86Register) {
        let start = offset
        if r.extended { emit(0x41) }
        emit(0x58 + r.low)
        note(start, "pop \(r.name(.qword))")
    }

    // MARK: - Arithmetic

    /// `op dst, src`.
    mutating func alu(_ op: X86ALU, _ width: X86Width, _ dst: X86Operand, _ src: X86Register) {
        let start = offset
        emit(width: width, opcode: [op.rawValue << 3 | 0x01], reg: src.rawValue, rm: dst)
        note(start, "\(op.name) \(dst.text(width)), \(src.name(width))")
    }

    /// `op dst, imm` (imm8 form when it fits; sign-extended to 64 bits for qword).
    mutating func alu(_ op: X86ALU, _ width: X86Width, _ dst: X86Operand, immediate: Int32) {
        let start = offset
        if let small = Int8(exactly: immediate) {
            emit(width: width, opcode: [0x83], reg: op.rawValue, rm: dst)
            emit(UInt8(bitPattern: small))
        } else {
            emit(width: width, opcode: [0x81], reg: op.rawValue, rm: dst)
            emit32(immediate)
        }
        note(start, "\(op.name) \(dst.text(width)), \(Int8(exactly: immediate) != nil ? Int64(immediate) : Self.shown(immediate, width))")
    }

    /// `test a, b`.
    mutating func test(_ width: X86Width, _ a: X86Register, _ b: X86Register) {
        let start = offset
        emit(width: width, opcode: [0x85], reg: b.rawValue, rm: .register(a))
        note(start, "test \(a.name(width)), \(b.name(width))")
    }

    /// `test a, imm32`.
    mutating func test(_ width: X86Width, _ a: X86Register, immediate: Int32) {
        let start = offset
        emit(width: width, opcode: [0xF7], reg: 0, rm: .register(a))
        emit32(immediate)
        note(start, "test \(a.name(width)), \(Self.shown(immediate, width))")
    }

    /// `imul dst, src`.
    mutating func imul(_ width: X86Width, _ dst: X86Register, _ src: X86Register) {
        let start = offset
        emit(width: width, opcode: [0x0F, 0xAF], reg: dst.rawValue, rm: .register(src))
        note(start, "imul \(dst.name(width)), \(src.name(width))")
    }

    /// `imul dst, src, imm`.
    mutating func imul(_ width: X86Width, _ dst: X86Register, _ src: X86Register, immediate: Int32) {
        let start = offset
        if let small = Int8(exactly: immediate) {
            emit(width: width, opcode: [0x6B], reg: dst.rawValue, rm: .register(src))
            emit(UInt8(bitPattern: small))
        } else {
            emit(width: width, opcode: [0x69], reg: dst.rawValue, rm: .register(src))
            emit32(immediate)
        }
        note(start, "imul \(dst.name(width)), \(src.name(width)), \(immediate)")
    }

    /// `neg r`.
    mutating func neg(_ width: X86Width, _ r: X86Register) {
        let start = offset
        emit(width: width, opcode: [0xF7], reg: 3, rm: .register(r))
        note(start, "neg \(r.name(width))")
    }

    /// `div r` (unsigned) or `idiv r`: rdx:rax / r.
    mutating func divide(_ width: X86Width, _ r: X86Register, signed: Bool) {
        let start = offset
        emit(width: width, opcode: [0xF7], reg: signed ? 7 : 6, rm: .register(r))
        note(start, "\(signed ? "idiv" : "div") \(r.name(width))")
    }

    /// `cdq` / `cqo`: sign-extends eax/rax into edx/rdx.
    mutating func signExtendAccumulator(_ width: X86Width) {
        let start = offset
        if width == .qword { emit(0x48) }
        emit(0x99)
        note(start, width == .qword ? "cqo" : "cdq")
    }

    /// `shl/shr/sar/rol/ror r, imm`.
    mutating func shift(_ op: X86Shift, _ width: X86Width, _ r: X86Register, immediate: UInt8) {
        let start = offset
        emit(width: width, opcode: [0xC1], reg: op.rawValue, rm: .register(r))
        emit(immediate)
        note(start, "\(op.name) \(r.name(width)), \(immediate)")
    }

    /// `shl/shr/sar r, cl`.
    mutating func shiftByCL(_ op: X86Shift, _ width: X86Width, _ r: X86Register) {
        let start = offset
        emit(width: width, opcode: [0xD3], reg: op.rawValue, rm: .register(r))
        note(start, "\(op.name) \(r.name(width)), cl")
    }

    /// `bswap r` (dword or qword).
    mutating func bswap(_ width: X86Width, _ r: X86Register) {
        let start = offset
        var rex: UInt8 = width == .qword ? 0x48 : 0
        if r.extended { rex |= 0x41 }
        if rex != 0 { emit(rex) }
        emit(0x0F)
        emit(0xC8 + r.low)
        note(start, "bswap \(r.name(width))")
    }

    // MARK: - Atomics

    /// `lock op [mem], src` for add/or/and/xor.
    mutating func lockALU(_ op: X86ALU, _ width: X86Width, _ mem: X86Memory, _ src: X86Register) {
        let start = offset
        emit(0xF0)
        emit(width: width, opcode: [op.rawValue << 3 | 0x01], reg: src.rawValue, rm: .memory(mem))
        note(start, "lock \(op.name) \(X86Operand.memory(mem).text(width)), \(src.name(width))")
    }

    /// `lock xadd [mem], src`.
    mutating func lockXadd(_ width: X86Width, _ mem: X86Memory, _ src: X86Register) {
        let start = offset
        emit(0xF0)
        emit(width: width, opcode: [0x0F, 0xC1], reg: src.rawValue, rm: .memory(mem))
        note(start, "lock xadd \(X86Operand.memory(mem).text(width)), \(src.name(width))")
    }

    /// `xchg [mem], src` (locked by definition).
    mutating func xchg(_ width: X86Width, _ mem: X86Memory, _ src: X86Register) {
        let start = offset
        emit(width: width, opcode: [0x87], reg: src.rawValue, rm: .memory(mem))
        note(start, "xchg \(X86Operand.memory(mem).text(width)), \(src.name(width))")
    }

    /// `lock cmpxchg [mem], src`.
    mutating func lockCmpxchg(_ width: X86Width, _ mem: X86Memory, _ src: X86Register) {
        let start = offset
        emit(0xF0)
        emit(width: width, opcode: [0x0F, 0xB1], reg: src.rawValue, rm: .memory(mem))
        note(start, "lock cmpxchg \(X86Operand.memory(mem).text(width)), \(src.name(width))")
    }

    // MARK: - Control flow

    /// `jmp label` or `jcc label`.
    mutating func jump(_ condition: X86Condition? = nil, to label: X86Label) {
        let start = offset
        let site = jumpSites
        jumpSites += 1
        let short = shortJumps.contains(site)
        if let c = condition {
            if short { emit(0x70 + c.rawValue) } else { emit(0x0F); emit(0x80 + c.rawValue) }
        } else {
            emit(short ? 0xEB : 0xE9)
        }
        let size = short ? 1 : 4
        fixups.append((offset, size, label, site))
        for _ in 0..<size { emit(0) }
        note(start, "\(condition.map { "j\($0)" } ?? "jmp") L\(label.id)")
    }

    /// `call label` (rel32).
    mutating func call(_ label: X86Label) {
        let start = offset
        emit(0xE8)
        fixups.append((offset, 4, label, nil))
        emit32(0)
        note(start, "call L\(label.id)")
    }

    /// `call r`.
    mutating func call(_ r: X86Register) {
        let start = offset
        emit(width: .dword, opcode: [0xFF], reg: 2, rm: .register(r))
        note(start, "call \(r.name(.qword))")
    }

    /// `jmp r`.
    mutating func jump(_ r: X86Register) {
        let start = offset
        emit(width: .dword, opcode: [0xFF], reg: 4, rm: .register(r))
        note(start, "jmp \(r.name(.qword))")
    }

    mutating func leave() {
        note(offset, "leave")
        emit(0xC9)
    }

    mutating func ret() {
        note(offset, "ret")
        emit(0xC3)
    }

    /// `int3`, padding after the code.
    mutating func trap() {
        note(offset, "int3")
        emit(0xCC)
    }
}

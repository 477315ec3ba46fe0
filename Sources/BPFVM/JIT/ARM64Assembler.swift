/// A general-purpose AArch64 register by number; 31 is the zero register or the stack pointer,
/// as the instruction decides.
struct A64Register: Hashable {
    let number: UInt8

    init(_ number: UInt8) { self.number = number }

    static let zr = A64Register(31)
    static let sp = A64Register(31)
    /// The frame pointer and link register of AAPCS64.
    static let fp = A64Register(29), lr = A64Register(30)

    /// `x7`, `w7`, `xzr`/`wzr`, or `sp`/`wsp` where 31 is the stack pointer.
    func name(_ wide: Bool, stackPointer: Bool = false) -> String {
        if number == 31 { return stackPointer ? (wide ? "sp" : "wsp") : (wide ? "xzr" : "wzr") }
        return (wide ? "x" : "w") + String(number)
    }
}

/// Condition codes, as `B.cond` encodes them.
enum A64Condition: UInt32 {
    case eq, ne, hs, lo, mi, pl, vs, vc, hi, ls, ge, lt, gt, le

    var name: String { ["eq", "ne", "hs", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le"][Int(rawValue)] }
}

/// The logical and arithmetic operations of the shifted-register forms.
enum A64ALU {
    case add, sub, and, orr, eor, subs, ands

    func base(_ wide: Bool) -> UInt32 {
        let base: UInt32
        switch self {
        case .add: base = 0x0B00_0000
        case .sub: base = 0x4B00_0000
        case .subs: base = 0x6B00_0000
        case .and: base = 0x0A00_0000
        case .orr: base = 0x2A00_0000
        case .eor: base = 0x4A00_0000
        case .ands: base = 0x6A00_0000
        }
        return base | (wide ? 0x8000_0000 : 0)
    }
}

/// The LSE atomic memory operations (`LDADD`, `LDCLR`, `LDEOR`, `LDSET`, `SWP`).
enum A64AtomicOp: UInt32 {
    case add = 0, clr = 1, eor = 2, set = 3, swp = 8

    var name: String {
        switch self {
        case .add: "add"
        case .clr: "clr"
        case .eor: "eor"
        case .set: "set"
        case .swp: "swp"
        }
    }
}

/// A position in the code that branches can name before it is known.
struct A64Label: Hashable {
    let id: Int
}

/// The AArch64 encoder: one method per instruction form, knowing nothing of BPF. Instruction
/// selection (``ARM64CodeGenerator``) decides what to emit; this decides the words.
///
/// With `listing` on, each instruction is also recorded as text in LLVM's spelling (its
/// aliases: `mov`, `cmp`, `lsl`, `sxtw`, `stadd`), which tests check with LLVM's disassembler.
struct ARM64Assembler {
    private(set) var words: [UInt32] = []
    /// (offset in bytes, text) of each instruction, when listing.
    private(set) var listing: [(offset: Int, text: String)]?

    private var labelOffsets: [Int?] = []
    private enum Field { case branch26, branch19 }
    /// Branches to patch: the instruction's index, its field, and its label.
    private var fixups: [(at: Int, field: Field, label: A64Label)] = []

    init(listing: Bool) {
        self.listing = listing ? [] : nil
        words.reserveCapacity(1024)
    }

    /// The offset in bytes of the next instruction.
    var offset: Int { words.count * 4 }

    var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: words.count * 4)
        for (i, word) in words.enumerated() {
            for b in 0..<4 { out[i * 4 + b] = UInt8(truncatingIfNeeded: word >> (8 * UInt32(b))) }
        }
        return out
    }

    // MARK: - Labels

    mutating func makeLabel() -> A64Label {
        labelOffsets.append(nil)
        return A64Label(id: labelOffsets.count - 1)
    }

    mutating func bind(_ label: A64Label) { labelOffsets[label.id] = offset }

    /// Patches every branch; false when one does not reach (±1 MiB for conditional branches,
    /// ±128 MiB for the others).
    mutating func resolve() -> Bool {
        var texts: [Int: Int] = [:]
        for fixup in fixups {
            let distance = (labelOffsets[fixup.label.id]! - fixup.at * 4) / 4
            switch fixup.field {
            case .branch26:
                guard distance >= -(1 << 25), distance < 1 << 25 else { return false }
                words[fixup.at] |= UInt32(bitPattern: Int32(distance)) & 0x03FF_FFFF
            case .branch19:
                guard distance >= -(1 << 18), distance < 1 << 18 else { return false }
                words[fixup.at] |= (UInt32(bitPattern: Int32(distance)) & 0x7FFFF) << 5
            }
            texts[fixup.at * 4] = distance * 4
        }
        // The listing names labels until now; LLVM shows the distance in bytes.
        if let entries = listing {
            listing = entries.map { entry in
                guard let distance = texts[entry.offset], let mark = entry.text.firstIndex(of: "@") else { return entry }
                return (entry.offset, entry.text[..<mark] + "#\(distance)")
            }
        }
        return true
    }

    // MARK: - Raw encoding

    private mutating func emit(_ word: UInt32, _ text: @autoclosure () -> String) {
        if listing != nil { listing!.append((offset, text())) }
        words.append(word)
    }

    private func r(_ reg: A64Register) -> UInt32 { UInt32(reg.number) }

    // MARK: - Moves

    /// `mov d, n` (`orr d, zr, n`).
    mutating func mov(_ wide: Bool, _ d: A64Register, _ n: A64Register) {
        emit(A64ALU.orr.base(wide) | r(n) << 16 | 31 << 5 | r(d), "mov \(d.name(wide)), \(n.name(wide))")
    }

    /// `mov d, sp` or `mov sp, n` (`add d, n, #0`, where 31 is the stack pointer).
    mutating func movStackPointer(_ d: A64Register, _ n: A64Register) {
        emit(0x9100_0000 | r(n) << 5 | r(d), "mov \(d.name(true, stackPointer: true)), \(n.name(true, stackPointer: true))")
    }

    /// `d = value`, in the fewest `movz`/`movn` and `movk` instructions (a 32-bit `d` is
    /// zero-extended, as writing a W register does).
    mutating func movImmediate(_ wide: Bool, _ d: A64Register, _ value: UInt64) {
        let value = wide ? value : value & 0xFFFF_FFFF
        let chunks = (wide ? 4 : 2)
        let parts = (0..<chunks).map { UInt32(truncatingIfNeeded: value >> (16 * UInt64($0))) & 0xFFFF }
        let ones = parts.filter { $0 == 0xFFFF }.count, zeros = parts.filter { $0 == 0 }.count
        let inverted = ones > zeros
        let sf: UInt32 = wide ? 0x8000_0000 : 0
        let filler: UInt32 = inverted ? 0xFFFF : 0
        let needed = parts.indices.filter { parts[$0] != filler }
        for (n, i) in (needed.isEmpty ? [0] : needed).enumerated() {
            let part = parts[i]
            if n == 0 {
                let imm = inverted ? ~part & 0xFFFF : part
                let opcode: UInt32 = inverted ? 0x1280_0000 : 0x5280_0000
                emit(sf | opcode | UInt32(i) << 21 | imm << 5 | r(d), Self.moveWideText(wide, d, imm: imm, shift: i * 16, inverted: inverted))
            } else {
                emit(sf | 0x7280_0000 | UInt32(i) << 21 | part << 5 | r(d), "movk \(d.name(wide)), #\(part)" + (i == 0 ? "" : ", lsl #\(i * 16)"))
            }
        }
    }

    /// LLVM's text of `movz`/`movn`: the `mov` alias where it applies.
    private static func moveWideText(_ wide: Bool, _ d: A64Register, imm: UInt32, shift: Int, inverted: Bool) -> String {
        let mask: UInt64 = wide ? ~0 : 0xFFFF_FFFF
        func movzAlias(_ value: UInt64) -> Bool {
            let value = value & mask
            return !(value == 0 && shift != 0) && value & ~(UInt64(0xFFFF) << UInt64(shift)) == 0
        }
        func anyMovz(_ value: UInt64) -> Bool {
            let value = value & mask
            return stride(from: 0, to: wide ? 64 : 32, by: 16).contains { value & ~(UInt64(0xFFFF) << UInt64($0)) == 0 }
        }
        let raw = UInt64(imm) << UInt64(shift)
        let shiftText = shift == 0 ? "" : ", lsl #\(shift)"
        // LLVM prints the alias's value signed.
        func signed(_ value: UInt64) -> Int64 { wide ? Int64(bitPattern: value) : Int64(Int32(bitPattern: UInt32(truncatingIfNeeded: value))) }
        if !inverted {
            return movzAlias(raw) ? "mov \(d.name(wide)), #\(signed(raw))" : "movz \(d.name(wide)), #\(imm)\(shiftText)"
        }
        let value = ~raw & mask
        if !anyMovz(value), movzAlias(~value & mask) { return "mov \(d.name(wide)), #\(signed(value))" }
        return "movn \(d.name(wide)), #\(imm)\(shiftText)"
    }

    // MARK: - Arithmetic and logic

    /// `op d, n, m[, lsl #shift]`; `cmp`, `tst`, `neg`, `mvn` where LLVM names them so.
    mutating func alu(_ op: A64ALU, _ wide: Bool, _ d: A64Register, _ n: A64Register, _ m: A64Register, shift: UInt32 = 0) {
        let word = op.base(wide) | r(m) << 16 | shift << 10 | r(n) << 5 | r(d)
        let shiftText = shift == 0 ? "" : ", lsl #\(shift)"
        let text: String
        switch op {
        case .subs where d == .zr: text = "cmp \(n.name(wide)), \(m.name(wide))\(shiftText)"
        case .ands where d == .zr: text = "tst \(n.name(wide)), \(m.name(wide))\(shiftText)"
        case .sub where n == .zr: text = "neg \(d.name(wide)), \(m.name(wide))\(shiftText)"
        case .orr where n == .zr && shift == 0: text = "mov \(d.name(wide)), \(m.name(wide))"
        default:
            let name = ["add", "sub", "and", "orr", "eor", "subs", "ands"][[A64ALU.add, .sub, .and, .orr, .eor, .subs, .ands].firstIndex(of: op)!]
            text = "\(name) \(d.name(wide)), \(n.name(wide)), \(m.name(wide))\(shiftText)"
        }
        emit(word, text)
    }

    /// `mvn d, m` (`orn d, zr, m`).
    mutating func mvn(_ wide: Bool, _ d: A64Register, _ m: A64Register) {
        emit((wide ? 0xAA20_0000 : 0x2A20_0000) | r(m) << 16 | 31 << 5 | r(d), "mvn \(d.name(wide)), \(m.name(wide))")
    }

    /// `add`/`sub` (`subtract`) `d, n, #imm` for 0 ≤ imm < 4096, or `cmp n, #imm` (`setFlags`
    /// with `d` the zero register). 31 is the stack pointer in `d` and `n` unless flags are set.
    mutating func addImmediate(_ wide: Bool, _ d: A64Register, _ n: A64Register, _ imm: UInt32, subtract: Bool = false, setFlags: Bool = false) {
        precondition(imm < 4096)
        let word = (wide ? 0x8000_0000 : 0) | (subtract ? 0x4000_0000 : 0) | (setFlags ? 0x2000_0000 : 0) | 0x1100_0000 | imm << 10 | r(n) << 5 | r(d)
        if setFlags, d == .zr {
            emit(word, "\(subtract ? "cmp" : "cmn") \(n.name(wide, stackPointer: true)), #\(imm)")
        } else {
            emit(
                word, "\(subtract ? "sub" : "add")\(setFlags ? "s" : "") \(d.name(wide, stackPointer: !setFlags)), \(n.name(wide, stackPointer: true)), #\(imm)"
            )
        }
    }

    /// `mul d, n, m` (`madd d, n, m, zr`).
    mutating func mul(_ wide: Bool, _ d: A64Register, _ n: A64Register, _ m: A64Register) {
        emit((wide ? 0x9B00_0000 : 0x1B00_0000) | r(m) << 16 | 31 << 10 | r(n) << 5 | r(d), "mul \(d.name(wide)), \(n.name(wide)), \(m.name(wide))")
    }

    /// `msub d, n, m, a`: d = a - n·m.
    mutating func msub(_ wide: Bool, _ d: A64Register, _ n: A64Register, _ m: A64Register, _ a: A64Register) {
        emit(
            (wide ? 0x9B00_8000 : 0x1B00_8000) | r(m) << 16 | r(a) << 10 | r(n) << 5 | r(d),
            "msub \(d.name(wide)), \(n.name(wide)), \(m.name(wide)), \(a.name(wide))")
    }

    /// `udiv`/`sdiv d, n, m` (a zero divisor gives 0; `INT_MIN / -1` gives `INT_MIN`).
    mutating func divide(_ wide: Bool, signed: Bool, _ d: A64Register, _ n: A64Register, _ m: A64Register) {
        emit(
            (wide ? 0x9AC0_0800 : 0x1AC0_0800) | (signed ? 0x400 : 0) | r(m) << 16 | r(n) << 5 | r(d),
            "\(signed ? "sdiv" : "udiv") \(d.name(wide)), \(n.name(wide)), \(m.name(wide))")
    }

    enum Shift: UInt32 { case lsl = 0, lsr = 1, asr = 2, ror = 3 }

    /// `lsl`/`lsr`/`asr d, n, m` (the count taken modulo the width, as BPF defines).
    mutating func shift(_ kind: Shift, _ wide: Bool, _ d: A64Register, _ n: A64Register, _ m: A64Register) {
        emit(
            (wide ? 0x9AC0_2000 : 0x1AC0_2000) | kind.rawValue << 10 | r(m) << 16 | r(n) << 5 | r(d),
            "\(["lsl", "lsr", "asr", "ror"][Int(kind.rawValue)]) \(d.name(wide)), \(n.name(wide)), \(m.name(wide))")
    }

    /// `lsl`/`lsr`/`asr d, n, #amount` (`ubfm`/`sbfm`).
    mutating func shift(_ kind: Shift, _ wide: Bool, _ d: A64Register, _ n: A64Register, immediate amount: UInt32) {
        let bits: UInt32 = wide ? 64 : 32
        let (immr, imms): (UInt32, UInt32)
        switch kind {
        case .lsl: (immr, imms) = ((bits - amount) % bits, bits - 1 - amount)
        case .lsr, .asr: (immr, imms) = (amount, bits - 1)
        case .ror: preconditionFailure("rotations by an immediate are not emitted")
        }
        bitfield(
            signed: kind == .asr, wide, d, n, immr: immr, imms: imms,
            text: "\(["lsl", "lsr", "asr"][Int(kind.rawValue)]) \(d.name(wide)), \(n.name(wide)), #\(amount)")
    }

    /// `sxtb`/`sxth`/`sxtw` (signed) or `uxtb`/`uxth` of the low `bits` of `n` into `d`.
    mutating func extend(signed: Bool, bits: UInt32, _ wide: Bool, _ d: A64Register, _ n: A64Register) {
        let suffix = bits == 8 ? "b" : bits == 16 ? "h" : "w"
        bitfield(signed: signed, wide, d, n, immr: 0, imms: bits - 1, text: "\(signed ? "s" : "u")xt\(suffix) \(d.name(wide)), \(n.name(false))")
    }

    private mutating func bitfield(signed: Bool, _ wide: Bool, _ d: A64Register, _ n: A64Register, immr: UInt32, imms: UInt32, text: String) {
        let base: UInt32 = signed ? (wide ? 0x9340_0000 : 0x1300_0000) : (wide ? 0xD340_0000 : 0x5300_0000)
        emit(base | immr << 16 | imms << 10 | r(n) << 5 | r(d), text)
    }

    /// `rev16 wd, wn` (`bytes` 2), `rev wd, wn` (4) or `rev xd, xn` (8).
    mutating func reverseBytes(_ bytes: Int, _ d: A64Register, _ n: A64Register) {
        switch bytes {
        case 2: emit(0x5AC0_0400 | r(n) << 5 | r(d), "rev16 \(d.name(false)), \(n.name(false))")
        case 4: emit(0x5AC0_0800 | r(n) << 5 | r(d), "rev \(d.name(false)), \(n.name(false))")
        default: emit(0xDAC0_0C00 | r(n) << 5 | r(d), "rev \(d.name(true)), \(n.name(true))")
        }
    }

    // MARK: - Memory

    /// A load (`signed`: sign-extending to 64 bits) or store of `size` bytes at `base + offset`:
    /// the scaled form where the offset allows, the unscaled one within ±256, else through
    /// `scratch` as a register offset.
    mutating func memory(
        load: Bool, size: Int, signed: Bool = false, _ t: A64Register, _ base: A64Register, _ offset: Int, scratch: A64Register
    ) {
        let sizeBits: UInt32 = size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3
        // opc: 00 store, 01 load, 10 sign-extending load to 64 bits.
        let opc: UInt32 = !load ? 0 : signed ? 2 : 1
        let wideTarget = size == 8 || signed
        let suffix = size == 1 ? "b" : size == 2 ? "h" : (signed && size == 4 ? "w" : "")
        let name = (load ? "ldr" : "str") + (signed ? "s" : "") + suffix
        let unscaledName = (load ? "ldur" : "stur") + (signed ? "s" : "") + suffix
        let target = t.name(wideTarget)
        let baseName = base.name(true, stackPointer: true)
        if offset >= 0, offset % size == 0, offset / size < 4096 {
            let word = sizeBits << 30 | 0x3900_0000 | opc << 22 | UInt32(offset / size) << 10 | r(base) << 5 | r(t)
            emit(word, "\(name) \(target), [\(baseName)\(offset == 0 ? "" : ", #\(offset)")]")
        } else if offset >= -256, offset < 256 {
            let word = sizeBits << 30 | 0x3800_0000 | opc << 22 | (UInt32(bitPattern: Int32(offset)) & 0x1FF) << 12 | r(base) << 5 | r(t)
            emit(word, "\(unscaledName) \(target), [\(baseName), #\(offset)]")
        } else {
            movImmediate(true, scratch, UInt64(bitPattern: Int64(offset)))
            let word = sizeBits << 30 | 0x3820_6800 | opc << 22 | r(scratch) << 16 | r(base) << 5 | r(t)
            emit(word, "\(name) \(target), [\(baseName), \(scratch.name(true))]")
        }
    }

    /// `stp a, b, [sp, #-16]!`.
    mutating func push(_ a: A64Register, _ b: A64Register) {
        emit(0xA9BF_0000 | r(b) << 10 | 31 << 5 | r(a), "stp \(a.name(true)), \(b.name(true)), [sp, #-16]!")
    }

    /// `ldp a, b, [sp], #16`.
    mutating func pop(_ a: A64Register, _ b: A64Register) {
        emit(0xA8C1_0000 | r(b) << 10 | 31 << 5 | r(a), "ldp \(a.name(true)), \(b.name(true)), [sp], #16")
    }

    // MARK: - Atomics

    /// LSE `ld<op>[al] s, t, [n]` (`st<op>` when `t` is the zero register and not ordered; `swp`).
    mutating func atomic(_ op: A64AtomicOp, _ wide: Bool, ordered: Bool, _ s: A64Register, _ t: A64Register, _ n: A64Register) {
        let word = (wide ? 0xF820_0000 : 0xB820_0000) | (ordered ? 0x00C0_0000 : 0) | (op == .swp ? 0x8000 : op.rawValue << 12) | r(s) << 16 | r(n) << 5 | r(t)
        let order = ordered ? "al" : ""
        if op != .swp, t == .zr, !ordered {
            emit(word, "st\(op.name) \(s.name(wide)), [\(n.name(true, stackPointer: true))]")
        } else {
            emit(word, "\(op == .swp ? "swp" : "ld" + op.name)\(order) \(s.name(wide)), \(t.name(wide)), [\(n.name(true, stackPointer: true))]")
        }
    }

    /// `casal s, t, [n]`: if `[n]` equals `s`, store `t`; `s` gets the old value.
    mutating func compareAndSwap(_ wide: Bool, _ s: A64Register, _ t: A64Register, _ n: A64Register) {
        emit(
            (wide ? 0xC8E0_FC00 : 0x88E0_FC00) | r(s) << 16 | r(n) << 5 | r(t), "casal \(s.name(wide)), \(t.name(wide)), [\(n.name(true, stackPointer: true))]")
    }

    /// `ldaxr t, [n]`.
    mutating func loadExclusive(_ wide: Bool, _ t: A64Register, _ n: A64Register) {
        emit((wide ? 0xC85F_FC00 : 0x885F_FC00) | r(n) << 5 | r(t), "ldaxr \(t.name(wide)), [\(n.name(true, stackPointer: true))]")
    }

    /// `stlxr ws, t, [n]`: `ws` is 0 when the store happened.
    mutating func storeExclusive(_ wide: Bool, status: A64Register, _ t: A64Register, _ n: A64Register) {
        emit(
            (wide ? 0xC800_FC00 : 0x8800_FC00) | r(status) << 16 | r(n) << 5 | r(t),
            "stlxr \(status.name(false)), \(t.name(wide)), [\(n.name(true, stackPointer: true))]")
    }

    /// `dmb ish`.
    mutating func barrier() { emit(0xD503_3BBF, "dmb ish") }

    // MARK: - Branches

    private mutating func branch(_ word: UInt32, _ field: Field, _ label: A64Label, _ text: String) {
        fixups.append((words.count, field, label))
        emit(word, text + "@")
    }

    mutating func b(_ label: A64Label) { branch(0x1400_0000, .branch26, label, "b ") }
    mutating func bl(_ label: A64Label) { branch(0x9400_0000, .branch26, label, "bl ") }
    mutating func b(_ condition: A64Condition, _ label: A64Label) { branch(0x5400_0000 | condition.rawValue, .branch19, label, "b.\(condition.name) ") }

    /// `cbz`/`cbnz` (`nonzero`) `t, label`.
    mutating func compareBranch(nonzero: Bool, _ wide: Bool, _ t: A64Register, _ label: A64Label) {
        branch((wide ? 0xB400_0000 : 0x3400_0000) | (nonzero ? 0x0100_0000 : 0) | r(t), .branch19, label, "\(nonzero ? "cbnz" : "cbz") \(t.name(wide)), ")
    }

    mutating func blr(_ n: A64Register) { emit(0xD63F_0000 | r(n) << 5, "blr \(n.name(true))") }
    mutating func br(_ n: A64Register) { emit(0xD61F_0000 | r(n) << 5, "br \(n.name(true))") }
    mutating func ret() { emit(0xD65F_03C0, "ret") }
    mutating func trap() { emit(0xD420_0000, "brk #0") }
}

/// An assembly error: the 1-based source line, its text and what is wrong with it.
public struct AssemblyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based line number in the assembled text.
    public var line: Int
    /// The source line as written.
    public var source: String
    /// What is wrong.
    public var message: String

    public var description: String { "line \(line): \(message): \(source.trimmed)" }
}

/// Assembles the text form of eBPF used by the BPF conformance suite and uBPF:
/// `mov32 %r0, 0`, `ldxw %r1, [%r2+4]`, `jne %r1, 0x10, label`, `lock fetch add [%r10-8], %r1`,
/// `call local func`, `lddw %r0, 0x1122334455667788`, with `#` comments and `label:` lines.
public enum Assembler {
    /// Assembles `text` into instruction slots (a `lddw` yields two).
    public static func assemble(_ text: String) throws(AssemblyError) -> [Instruction] {
        // Pass 1: strip comments, collect labels with the slot index they name.
        var statements: [(line: Int, source: String, words: [String])] = []
        var labels: [String: Int] = [:]
        var slot = 0
        var exits: [Int] = []  // slots of `exit` instructions
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let source = String(raw)
            var body = source.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            body = body.trimmed
            if body.isEmpty { continue }
            if body.hasSuffix(":") {
                let name = String(body.dropLast()).trimmed
                guard isIdentifier(name) else { throw AssemblyError(line: n + 1, source: source, message: "invalid label") }
                guard labels[name] == nil else { throw AssemblyError(line: n + 1, source: source, message: "duplicate label '\(name)'") }
                labels[name] = slot
                continue
            }
            let words = tokenize(body)
            statements.append((n + 1, source, words))
            if words == ["exit"] { exits.append(slot) }
            slot += words.first == "lddw" ? 2 : 1
        }
        // Pass 2: encode.
        var out: [Instruction] = []
        out.reserveCapacity(slot)
        for statement in statements {
            do throws(AssemblyMessage) {
                out += try encode(statement.words, at: out.count, labels: labels, exits: exits)
            } catch {
                throw AssemblyError(line: statement.line, source: statement.source, message: error.text)
            }
        }
        return out
    }

    /// Words of a statement: the mnemonic words, then the comma-separated operands, with
    /// white space inside `[...]` removed.
    private static func tokenize(_ body: String) -> [String] {
        var squeezed = ""
        var depth = 0
        for c in body {
            if c == "[" { depth += 1 } else if c == "]" { depth -= 1 }
            if depth > 0, c == " " || c == "\t" { continue }
            squeezed.append(c)
        }
        let parts = squeezed.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmed }
        return parts[0].split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) + parts.dropFirst()
    }

    private static func isIdentifier(_ s: String) -> Bool {
        guard let first = s.first, first.isLetter || first == "_" else { return false }
        return s.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }
    }

    private static let aluOps: [String: ALUOp] = [
        "add": .add, "sub": .sub, "mul": .mul, "div": .div, "or": .or, "and": .and, "lsh": .lsh, "rsh": .rsh,
        "mod": .mod, "xor": .xor, "mov": .mov, "arsh": .arsh, "sdiv": .div, "smod": .mod,
    ]
    private static let jumpOps: [String: JumpOp] = [
        "jeq": .jeq, "jgt": .jgt, "jge": .jge, "jset": .jset, "jne": .jne, "jsgt": .jsgt, "jsge": .jsge,
        "jlt": .jlt, "jle": .jle, "jslt": .jslt, "jsle": .jsle,
    ]
    private static let sizes: [String: MemSize] = ["b": .b, "h": .h, "w": .w, "dw": .dw]
    private static let atomicOps: [String: AtomicOp] = ["add": .add, "or": .or, "and": .and, "xor": .xor]

    /// Splits `add32` into ("add", 32); a name without a width suffix is 64-bit.
    private static func width(_ name: String) -> (String, Bool)? {
        if name.hasSuffix("32") { return (String(name.dropLast(2)), false) }
        if name.hasSuffix("64") { return (String(name.dropLast(2)), true) }
        return (name, true)
    }

    private static func encode(_ words: [String], at pc: Int, labels: [String: Int], exits: [Int]) throws(AssemblyMessage) -> [Instruction] {
        let mnemonic = words[0]
        let operands = Array(words.dropFirst())
        func expect(_ n: Int) throws(AssemblyMessage) {
            guard operands.count == n else { throw AssemblyMessage("invalid number of operands for \(mnemonic): expected \(n), got \(operands.count)") }
        }
        func target(_ s: String) throws(AssemblyMessage) -> Int {
            if let label = labels[s] { return label - pc - 1 }
            // The suite's text form lets `exit` name the next exit instruction when no label
            // of that name exists.
            if s == "exit", let next = exits.first(where: { $0 > pc }) ?? exits.last { return next - pc - 1 }
            if s.first == "+" || s.first == "-", let v = Int(s) { return v }
            throw AssemblyMessage("unknown label '\(s)'")
        }

        // lock [fetch] op[32] [%rD+off], %rS
        if mnemonic == "lock" {
            var names = operands
            guard names.count >= 3, names.last?.hasPrefix("%") == true, names[names.count - 2].hasPrefix("[") else {
                throw AssemblyMessage("Invalid number of operands for lock")
            }
            let src = try register(names.removeLast())
            let (dst, off) = try memoryOperand(names.removeLast())
            let fetch = names.first == "fetch"
            if fetch { names.removeFirst() }
            guard names.count == 1, let (name, is64) = width(names[0]) else { throw AssemblyMessage("Invalid number of operands for lock") }
            let op: AtomicOp
            switch name {
            case "xchg" where !fetch: op = .xchg
            case "cmpxchg" where !fetch: op = .cmpxchg
            default:
                guard let base = atomicOps[name] else { throw AssemblyMessage("invalid atomic operation '\(names[0])'") }
                op = fetch ? AtomicOp(rawValue: base.rawValue | 1)! : base
            }
            return [
                Instruction(
                    opcode: OpClass.stx.rawValue | MemMode.atomic.rawValue | (is64 ? MemSize.dw : .w).rawValue,
                    dst: dst, src: src, offset: off, imm: op.rawValue)
            ]
        }

        switch mnemonic {
        case "exit":
            try expect(0)
            return [Instruction(opcode: 0x95)]
        case "ja", "ja32":
            try expect(1)
            let t = try target(operands[0])
            if mnemonic == "ja" { return [Instruction(opcode: 0x05, offset: try offset16(t))] }
            return [Instruction(opcode: 0x06, imm: try imm32(t))]
        case "call":
            if operands.count == 2, operands[0] == "local" {
                return [Instruction(opcode: 0x85, src: CallKind.local.rawValue, imm: try imm32(try target(operands[1])))]
            }
            try expect(1)
            if operands[0].hasPrefix("%") { return [Instruction(opcode: 0x8d, dst: try register(operands[0]))] }
            if let id = HelperID(named: operands[0])?.rawValue { return [Instruction(opcode: 0x85, imm: id)] }
            return [Instruction(opcode: 0x85, imm: try immediate32(operands[0]))]
        case "lddw":
            try expect(2)
            let dst = try register(operands[0])
            let value = try immediate64(operands[1])
            return [
                Instruction(opcode: 0x18, dst: dst, imm: Int32(truncatingIfNeeded: value)),
                Instruction(opcode: 0, imm: Int32(truncatingIfNeeded: value >> 32)),
            ]
        default: break
        }

        // Byte swaps: be16/le32/bswap64/swap16.
        for (prefix, opcode) in [("bswap", UInt8(0xd7)), ("swap", 0xd7), ("be", 0xdc), ("le", 0xd4)] where mnemonic.hasPrefix(prefix) {
            guard let bits = Int32(mnemonic.dropFirst(prefix.count)), [16, 32, 64].contains(bits) else { continue }
            try expect(1)
            return [Instruction(opcode: opcode, dst: try register(operands[0]), imm: bits)]
        }

        // Sign-extending moves: movsx<from><to>.
        if mnemonic.hasPrefix("movsx"), let spec = Int(mnemonic.dropFirst(5)) {
            let table: [Int: (UInt8, Int16)] = [832: (0xbc, 8), 1632: (0xbc, 16), 864: (0xbf, 8), 1664: (0xbf, 16), 3264: (0xbf, 32)]
            guard let (opcode, from) = table[spec] else { throw AssemblyMessage("invalid mnemonic '\(mnemonic)'") }
            try expect(2)
            return [Instruction(opcode: opcode, dst: try register(operands[0]), src: try register(operands[1]), offset: from)]
        }

        // Loads and stores.
        if mnemonic.hasPrefix("ldx") {
            var sizeName = String(mnemonic.dropFirst(3))
            var mode = MemMode.mem
            if sizeName.hasPrefix("s"), sizeName != "s" { sizeName.removeFirst(); mode = .memsx }
            guard let size = sizes[sizeName], mode == .mem || size != .dw else { throw AssemblyMessage("invalid mnemonic '\(mnemonic)'") }
            try expect(2)
            let (src, off) = try memoryOperand(operands[1])
            return [Instruction(opcode: OpClass.ldx.rawValue | mode.rawValue | size.rawValue, dst: try register(operands[0]), src: src, offset: off)]
        }
        if mnemonic.hasPrefix("stx"), let size = sizes[String(mnemonic.dropFirst(3))] {
            try expect(2)
            let (dst, off) = try memoryOperand(operands[0])
            return [Instruction(opcode: OpClass.stx.rawValue | MemMode.mem.rawValue | size.rawValue, dst: dst, src: try register(operands[1]), offset: off)]
        }
        if mnemonic.hasPrefix("st"), let size = sizes[String(mnemonic.dropFirst(2))] {
            try expect(2)
            let (dst, off) = try memoryOperand(operands[0])
            return [Instruction(opcode: OpClass.st.rawValue | MemMode.mem.rawValue | size.rawValue, dst: dst, offset: off, imm: try immediate32(operands[1]))]
        }
        if mnemonic.hasPrefix("ldabs"), let size = sizes[String(mnemonic.dropFirst(5))], size != .dw {
            try expect(1)
            return [Instruction(opcode: OpClass.ld.rawValue | MemMode.abs.rawValue | size.rawValue, imm: try immediate32(operands[0]))]
        }
        if mnemonic.hasPrefix("ldind"), let size = sizes[String(mnemonic.dropFirst(5))], size != .dw {
            try expect(2)
            return [
                Instruction(
                    opcode: OpClass.ld.rawValue | MemMode.ind.rawValue | size.rawValue, src: try register(operands[0]), imm: try immediate32(operands[1]))
            ]
        }

        guard let (name, is64) = width(mnemonic) else { throw AssemblyMessage("invalid mnemonic '\(mnemonic)'") }

        if name == "neg" {
            try expect(1)
            return [Instruction(opcode: (is64 ? OpClass.alu64 : .alu).rawValue | ALUOp.neg.rawValue, dst: try register(operands[0]))]
        }
        if let op = aluOps[name] {
            try expect(2)
            let cls = (is64 ? OpClass.alu64 : .alu).rawValue
            let signed: Int16 = name == "sdiv" || name == "smod" ? 1 : 0
            let dst = try register(operands[0])
            if operands[1].hasPrefix("%") {
                return [Instruction(opcode: cls | OpSource.x.rawValue | op.rawValue, dst: dst, src: try register(operands[1]), offset: signed)]
            }
            return [Instruction(opcode: cls | op.rawValue, dst: dst, offset: signed, imm: try immediate32(operands[1]))]
        }
        if let op = jumpOps[name] {
            try expect(3)
            let cls = (is64 ? OpClass.jmp : .jmp32).rawValue
            let dst = try register(operands[0])
            let off = try offset16(try target(operands[2]))
            if operands[1].hasPrefix("%") {
                return [Instruction(opcode: cls | OpSource.x.rawValue | op.rawValue, dst: dst, src: try register(operands[1]), offset: off)]
            }
            return [Instruction(opcode: cls | op.rawValue, dst: dst, offset: off, imm: try immediate32(operands[1]))]
        }
        throw AssemblyMessage("invalid mnemonic '\(mnemonic)'")
    }

    private static func register(_ s: String) throws(AssemblyMessage) -> UInt8 {
        guard s.hasPrefix("%r"), let n = UInt8(s.dropFirst(2)), n <= 10 else { throw AssemblyMessage("invalid register '\(s)'") }
        return n
    }

    /// `[%rN]`, `[%rN+off]` or `[%rN-off]`.
    private static func memoryOperand(_ s: String) throws(AssemblyMessage) -> (UInt8, Int16) {
        guard s.hasPrefix("["), s.hasSuffix("]") else { throw AssemblyMessage("invalid memory operand '\(s)': expected [%rN+offset]") }
        let inner = String(s.dropFirst().dropLast()).replacingSpaces()
        guard let split = inner.firstIndex(where: { $0 == "+" || $0 == "-" }) else { return (try register(inner), 0) }
        let reg = try register(String(inner[..<split]))
        guard let value = parseInteger(String(inner[split...])), value >= -32768, value <= 32767 else {
            throw AssemblyMessage("invalid offset in '\(s)': must fit in 16 signed bits")
        }
        return (reg, Int16(value))
    }

    private static func offset16(_ v: Int) throws(AssemblyMessage) -> Int16 {
        guard let o = Int16(exactly: v) else { throw AssemblyMessage("jump offset \(v) does not fit in 16 bits; use ja32") }
        return o
    }

    private static func imm32(_ v: Int) throws(AssemblyMessage) -> Int32 {
        guard let o = Int32(exactly: v) else { throw AssemblyMessage("offset \(v) does not fit in 32 bits") }
        return o
    }

    /// A 32-bit immediate: decimal in Int32 range, or hex up to 0xffffffff taken as a bit pattern.
    private static func immediate32(_ s: String) throws(AssemblyMessage) -> Int32 {
        guard let v = parseInteger(s) else { throw AssemblyMessage("invalid immediate '\(s)'") }
        let isHex = s.lowercased().contains("0x")
        if let exact = Int32(exactly: v) { return exact }
        if isHex, v >= 0, v <= 0xffff_ffff { return Int32(bitPattern: UInt32(v)) }
        throw AssemblyMessage("immediate '\(s)' does not fit in 32 bits")
    }

    /// A 64-bit immediate: any signed or unsigned 64-bit value.
    private static func immediate64(_ s: String) throws(AssemblyMessage) -> UInt64 {
        var body = Substring(s)
        let negative = body.first == "-"
        if body.first == "-" || body.first == "+" { body = body.dropFirst() }
        let magnitude: UInt64?
        if body.lowercased().hasPrefix("0x") { magnitude = UInt64(body.dropFirst(2), radix: 16) } else { magnitude = UInt64(body) }
        guard let m = magnitude, !negative || m <= UInt64(1) << 63 else { throw AssemblyMessage("invalid 64-bit immediate '\(s)'") }
        return negative ? 0 &- m : m
    }
}

/// Parses a signed decimal or `0x` hexadecimal integer.
func parseInteger(_ s: String) -> Int? {
    var body = Substring(s)
    var sign = 1
    if body.first == "-" { sign = -1; body = body.dropFirst() } else if body.first == "+" { body = body.dropFirst() }
    let value: Int?
    if body.lowercased().hasPrefix("0x") { value = Int(body.dropFirst(2), radix: 16) } else { value = Int(body, radix: 10) }
    return value.map { $0 * sign }
}

struct AssemblyMessage: Error {
    var text: String
    init(_ text: String) { self.text = text }
}

extension String {
    var trimmed: String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let end = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[start...end])
    }

    func replacingSpaces() -> String { String(filter { $0 != " " && $0 != "\t" }) }
}

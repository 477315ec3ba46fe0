/// Assembles the pseudo-C syntax the kernel's verifier log and `bpftool prog dump xlated` print
/// (`r1 = *(u32 *)(r2 +4)`, `if r1 > 0x10 goto pc+3`, `w0 += w1`, `r1 = map[fd:3]`), with
/// symbolic jump targets (`goto <label>`, `label:` lines) and the spellings PREVAIL's verifier
/// test vectors add (`lock *(u64 *)(r1 + 0) += r2 fetch`, `x=`/`cx=`, `if r1 &== 0`,
/// `r2 s16= r1`, `map_fd 1`, `map_by_idx(0)`, `map_val(1) + 8`).
///
/// `if r &== k goto L` (no bit of `k` set) has no single instruction: it becomes a `jset`
/// over a `ja`.
public enum PseudoCAssembler {
    /// A block of lines, optionally named by a label.
    public typealias Block = (label: String?, lines: [String])

    /// Assembles `text`, where a line `name:` (or `<name>:`) labels the next instruction.
    public static func assemble(_ text: String) throws(AssemblyError) -> [Instruction] {
        var blocks: [Block] = [(nil, [])]
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            let body = stripComment(line)
            if body.hasSuffix(":"), !body.contains(" ") {
                blocks.append((String(body.dropLast()), []))
            } else {
                blocks[blocks.count - 1].lines.append(line)
            }
        }
        return try assemble(blocks)
    }

    /// Assembles labelled blocks in order. A jump to a label no block defines goes to the end
    /// of the program (one past the last instruction).
    public static func assemble(_ blocks: [Block]) throws(AssemblyError) -> [Instruction] {
        let patterns = Patterns()
        // Pass 1: slot of each label.
        var labels: [String: Int] = [:]
        var slot = 0
        var lineNumber = 0
        for block in blocks {
            if let label = block.label { labels[normalize(label)] = slot }
            for line in block.lines {
                lineNumber += 1
                let body = stripComment(line)
                if body.isEmpty { continue }
                slot += slotCount(body, patterns)
            }
        }
        let end = slot
        // Pass 2: encode.
        var out: [Instruction] = []
        lineNumber = 0
        for block in blocks {
            for line in block.lines {
                lineNumber += 1
                let body = stripComment(line)
                if body.isEmpty { continue }
                do throws(AssemblyMessage) {
                    out += try encode(body, at: out.count, patterns) { name in labels[normalize(name)] ?? end }
                } catch {
                    throw AssemblyError(line: lineNumber, source: line, message: error.text)
                }
            }
        }
        return out
    }

    private static func normalize(_ label: String) -> String {
        var s = label.trimmed
        if s.hasPrefix("<"), s.hasSuffix(">") { s = String(s.dropFirst().dropLast()) }
        return s
    }

    private static func stripComment(_ line: String) -> String {
        var s = Substring(line)
        if let i = s.firstIndex(of: ";") { s = s[..<i] }
        if let r = s.firstRange(of: "//") { s = s[..<r.lowerBound] }
        let t = String(s).trimmed
        return t.hasPrefix("#") ? "" : t
    }

    private static func slotCount(_ body: String, _ p: Patterns) -> Int {
        if body.wholeMatch(of: p.lddwPattern) != nil || body.wholeMatch(of: p.mapPattern) != nil { return 2 }
        if body.wholeMatch(of: p.notSetPattern) != nil { return 2 }
        return 1
    }

    // MARK: - Patterns

    /// The statement patterns. Built per assembly: a `Regex` is not safe to share across threads.
    private struct Patterns {
        let reg = #/([rw])(10|[0-9])/#
        let lddwPattern = #/([rw])(10|[0-9])\s*=\s*(-?(?:0x[0-9a-fA-F]+|[0-9]+))\s*ll/#
        let notSetPattern = #/if\s+([rw])(10|[0-9])\s*&==\s*(\S+)\s+goto\s+(\S+)/#
        let jumpPattern = #/if\s+([rw])(10|[0-9])\s*(==|!=|>=|>|<=|<|s>=|s>|s<=|s<|&!=|&)\s*(\S+)\s+goto\s+(\S+)/#
        let memoryOperand = #/\*\(\s*([us])(8|16|32|64)\s*\*\)\s*\(\s*r(10|[0-9])\s*(?:([+-])\s*(\w+))?\s*\)/#
        let lockPattern = #/lock\s+\*\(\s*u(32|64)\s*\*\)\s*\(\s*r(10|[0-9])\s*(?:([+-])\s*(\w+))?\s*\)\s*(\+=|\|=|&=|\^=|x=|cx=)\s*r(10|[0-9])(\s+fetch)?/#
        let skbPattern = #/r0\s*=\s*\*\(\s*u(8|16|32|64)\s*\*\)\s*skb\[\s*(?:r(10|[0-9]))?\s*\+?\s*(-?\w+)?\s*\]/#
        let aluPattern = #/([rw])(10|[0-9])\s*(\+|-|\*|/|%|\||&|\^|<<|>>|s>>|s/|s%)?=\s*(\S+)/#
        let movsxPattern = #/([rw])(10|[0-9])\s*(?:s(8|16|32)=|=\s*\(s(8|16|32)\))\s*([rw])(10|[0-9])/#
        let swapPattern = #/r(10|[0-9])\s*=\s*(be|le|swap|bswap)(16|32|64)\s+r(10|[0-9])/#
        let negPattern = #/([rw])(10|[0-9])\s*=\s*-\s*([rw])(10|[0-9])/#
        let mapPattern =
            #/r(10|[0-9])\s*=\s*(?:map\[(fd|idx):(\d+)\](?:\[0\]\s*\+\s*(\d+))?|map_fd\s+(\d+)|map_by_idx\((\d+)\)|map_val\((\d+)\)\s*\+\s*(\d+)|mva\(map_by_idx\((\d+)\)\)\s*\+\s*(\d+))/#
    }

    // MARK: - Encoding

    private static func encode(_ body: String, at slot: Int, _ p: Patterns, label: (String) -> Int) throws(AssemblyMessage) -> [Instruction] {
        func relative(_ target: String) throws(AssemblyMessage) -> Int {
            if target.hasPrefix("pc") { return try integer(String(target.dropFirst(2))) }
            if let first = target.first, first == "+" || first == "-" { return try integer(target) }
            return label(target) - slot - 1
        }
        func offset16(_ v: Int) throws(AssemblyMessage) -> Int16 {
            guard let o = Int16(exactly: v) else { throw AssemblyMessage("offset \(v) does not fit in 16 bits") }
            return o
        }
        if body == "exit" { return [Instruction(opcode: 0x95)] }
        if body.hasPrefix("callx ") {
            let r = try register(String(body.dropFirst(6)).trimmed, p)
            return [Instruction(opcode: 0x8d, dst: r.number)]
        }
        if body.hasPrefix("call ") {
            let target = String(body.dropFirst(5)).trimmed
            if target.hasPrefix("<") || target.hasPrefix("pc") {
                return [Instruction(opcode: 0x85, src: CallKind.local.rawValue, imm: Int32(try relative(target)))]
            }
            let idText = target.split(separator: "#").last.map(String.init) ?? target
            if let id = Int32(idText) { return [Instruction(opcode: 0x85, imm: id)] }
            let name = target.hasPrefix("bpf_") ? String(target.dropFirst(4)) : target
            guard let id = HelperID(named: name)?.rawValue else { throw AssemblyMessage("unknown helper '\(target)'") }
            return [Instruction(opcode: 0x85, imm: id)]
        }
        if body.hasPrefix("goto ") || body.hasPrefix("gotol ") {
            let long = body.hasPrefix("gotol")
            let displacement = try relative(String(body.dropFirst(long ? 6 : 5)).trimmed)
            if long { return [Instruction(opcode: 0x06, imm: Int32(displacement))] }
            return [Instruction(opcode: 0x05, offset: try offset16(displacement))]
        }
        if let m = body.wholeMatch(of: p.notSetPattern) {
            // if (r & k) == 0 goto L  =>  if r & k goto +1; goto L
            let r = try register("\(m.1)\(m.2)", p)
            var jset = try jumpInstruction(r, "&", String(m.3), displacement: 1, p)
            jset.offset = 1
            return [jset, Instruction(opcode: 0x05, offset: try offset16(try relative(String(m.4)) - 1))]
        }
        if let m = body.wholeMatch(of: p.jumpPattern) {
            let r = try register("\(m.1)\(m.2)", p)
            return [try jumpInstruction(r, String(m.3), String(m.4), displacement: try relative(String(m.5)), p)]
        }
        if let m = body.wholeMatch(of: p.lockPattern) {
            let size: UInt8 = m.1 == "64" ? 0x18 : 0x00
            let offset = try memoryOffset(m.3.map(String.init), m.4.map(String.init))
            let fetch = m.7 != nil
            let imm: Int32
            switch m.5 {
            case "+=": imm = fetch ? AtomicOp.fetchAdd.rawValue : AtomicOp.add.rawValue
            case "|=": imm = fetch ? AtomicOp.fetchOr.rawValue : AtomicOp.or.rawValue
            case "&=": imm = fetch ? AtomicOp.fetchAnd.rawValue : AtomicOp.and.rawValue
            case "^=": imm = fetch ? AtomicOp.fetchXor.rawValue : AtomicOp.xor.rawValue
            case "x=": imm = AtomicOp.xchg.rawValue
            default: imm = AtomicOp.cmpxchg.rawValue
            }
            return [Instruction(opcode: 0xc3 | size, dst: UInt8(m.2)!, src: UInt8(m.6)!, offset: offset, imm: imm)]
        }
        if let m = body.wholeMatch(of: p.skbPattern) {
            let size = sizeBits(Int(m.1)!)
            let imm = try m.3.map { s throws(AssemblyMessage) in try immediate32(String(s)) } ?? 0
            if let index = m.2 { return [Instruction(opcode: 0x40 | size, src: UInt8(index)!, imm: imm)] }
            return [Instruction(opcode: 0x20 | size, imm: imm)]
        }
        if let m = body.wholeMatch(of: p.lddwPattern) {
            let r = try register("\(m.1)\(m.2)", p)
            let text = String(m.3)
            let value: UInt64
            if text.hasPrefix("-") {
                guard let v = Int64(text) else { throw AssemblyMessage("invalid number '\(text)'") }
                value = UInt64(bitPattern: v)
            } else {
                guard let v = parseUnsigned(text) else { throw AssemblyMessage("invalid number '\(text)'") }
                value = v
            }
            return [
                Instruction(opcode: 0x18, dst: r.number, imm: Int32(truncatingIfNeeded: value)),
                Instruction(opcode: 0, imm: Int32(truncatingIfNeeded: value >> 32)),
            ]
        }
        if let m = body.wholeMatch(of: p.mapPattern) {
            let dst = UInt8(m.1)!
            func number(_ text: Substring?) throws(AssemblyMessage) -> Int32 {
                guard let text, let v = Int32(text) else { throw AssemblyMessage("map number '\(text ?? "")' does not fit in 32 bits") }
                return v
            }
            let (kind, index, valueOffset): (WideImmediateKind, Int32, Int32)
            if let fdOrIndex = m.2 {
                let byIndex = fdOrIndex == "idx"
                if m.4 != nil {
                    (kind, index, valueOffset) = (byIndex ? .mapIndexValue : .mapValue, try number(m.3), try number(m.4))
                } else {
                    (kind, index, valueOffset) = (byIndex ? .mapIndex : .mapFD, try number(m.3), 0)
                }
            } else if m.5 != nil {
                (kind, index, valueOffset) = (.mapFD, try number(m.5), 0)
            } else if m.6 != nil {
                (kind, index, valueOffset) = (.mapIndex, try number(m.6), 0)
            } else if m.7 != nil {
                (kind, index, valueOffset) = (.mapValue, try number(m.7), try number(m.8))
            } else {
                (kind, index, valueOffset) = (.mapIndexValue, try number(m.9), try number(m.10))
            }
            return [Instruction(opcode: 0x18, dst: dst, src: kind.rawValue, imm: index), Instruction(opcode: 0, imm: valueOffset)]
        }
        if let m = body.wholeMatch(of: p.swapPattern) {
            guard m.1 == m.4 else { throw AssemblyMessage("a byte swap works in place") }
            let bits = Int32(m.3)!
            switch m.2 {
            case "le": return [Instruction(opcode: 0xd4, dst: UInt8(m.1)!, imm: bits)]
            case "be": return [Instruction(opcode: 0xdc, dst: UInt8(m.1)!, imm: bits)]
            default: return [Instruction(opcode: 0xd7, dst: UInt8(m.1)!, imm: bits)]
            }
        }
        if let m = body.wholeMatch(of: p.negPattern) {
            let d = try register("\(m.1)\(m.2)", p)
            guard m.2 == m.4, m.1 == m.3 else { throw AssemblyMessage("negation works in place") }
            return [Instruction(opcode: d.is64 ? 0x87 : 0x84, dst: d.number)]
        }
        if let m = body.wholeMatch(of: p.movsxPattern) {
            let d = try register("\(m.1)\(m.2)", p)
            let bits = Int16(m.3 ?? m.4!)!
            return [Instruction(opcode: d.is64 ? 0xbf : 0xbc, dst: d.number, src: UInt8(m.6)!, offset: bits)]
        }
        // Loads and stores.
        if let m = body.firstMatch(of: p.memoryOperand) {
            let size = sizeBits(Int(m.2)!)
            let offset = try memoryOffset(m.4.map(String.init), m.5.map(String.init))
            let base = UInt8(m.3)!
            let before = String(body[..<m.range.lowerBound]).trimmed
            let after = String(body[m.range.upperBound...]).trimmed
            if before.isEmpty, after.hasPrefix("=") {
                let value = String(after.dropFirst()).trimmed
                if let r = try? register(value, p) {
                    return [Instruction(opcode: 0x63 | size, dst: base, src: r.number, offset: offset)]
                }
                return [Instruction(opcode: 0x62 | size, dst: base, offset: offset, imm: try immediate32(value))]
            }
            if before.hasSuffix("="), after.isEmpty {
                let d = try register(String(before.dropLast()).trimmed, p)
                let signed = m.1 == "s"
                return [Instruction(opcode: (signed ? 0x81 : 0x61) | size, dst: d.number, src: base, offset: offset)]
            }
            throw AssemblyMessage("cannot read this load or store")
        }
        if let m = body.wholeMatch(of: p.aluPattern) {
            let d = try register("\(m.1)\(m.2)", p)
            let operand = String(m.4)
            var op: ALUOp
            var offset: Int16 = 0
            switch m.3.map(String.init) {
            case nil: op = .mov
            case "+": op = .add
            case "-": op = .sub
            case "*": op = .mul
            case "/": op = .div
            case "%": op = .mod
            case "|": op = .or
            case "&": op = .and
            case "^": op = .xor
            case "<<": op = .lsh
            case ">>": op = .rsh
            case "s>>": op = .arsh
            case "s/": op = .div; offset = 1
            default: op = .mod; offset = 1
            }
            let cls: UInt8 = d.is64 ? 0x07 : 0x04
            if let s = try? register(operand, p) {
                return [Instruction(opcode: cls | 0x08 | op.rawValue, dst: d.number, src: s.number, offset: offset)]
            }
            return [Instruction(opcode: cls | op.rawValue, dst: d.number, offset: offset, imm: try immediate32(operand))]
        }
        throw AssemblyMessage("unknown instruction")
    }

    private static func jumpInstruction(_ r: (number: UInt8, is64: Bool), _ op: String, _ operand: String, displacement: Int, _ p: Patterns)
        throws(AssemblyMessage) -> Instruction
    {
        let code: JumpOp
        switch op {
        case "==": code = .jeq
        case "!=": code = .jne
        case ">": code = .jgt
        case ">=": code = .jge
        case "<": code = .jlt
        case "<=": code = .jle
        case "s>": code = .jsgt
        case "s>=": code = .jsge
        case "s<": code = .jslt
        case "s<=": code = .jsle
        default: code = .jset
        }
        guard let offset = Int16(exactly: displacement) else { throw AssemblyMessage("jump of \(displacement) does not fit in 16 bits") }
        let cls: UInt8 = r.is64 ? 0x05 : 0x06
        if let s = try? register(operand, p) {
            return Instruction(opcode: cls | 0x08 | code.rawValue, dst: r.number, src: s.number, offset: offset)
        }
        return Instruction(opcode: cls | code.rawValue, dst: r.number, offset: offset, imm: try immediate32(operand))
    }

    private static func register(_ text: String, _ p: Patterns) throws(AssemblyMessage) -> (number: UInt8, is64: Bool) {
        guard let m = text.wholeMatch(of: p.reg) else { throw AssemblyMessage("'\(text)' is not a register") }
        return (UInt8(m.2)!, m.1 == "r")
    }

    private static func sizeBits(_ bits: Int) -> UInt8 {
        switch bits {
        case 8: MemSize.b.rawValue
        case 16: MemSize.h.rawValue
        case 32: MemSize.w.rawValue
        default: MemSize.dw.rawValue
        }
    }

    private static func memoryOffset(_ sign: String?, _ value: String?) throws(AssemblyMessage) -> Int16 {
        guard let value else { return 0 }
        let magnitude = try integer(value)
        guard let o = Int16(exactly: sign == "-" ? -magnitude : magnitude) else { throw AssemblyMessage("offset \(value) does not fit in 16 bits") }
        return o
    }

    private static func integer(_ text: String) throws(AssemblyMessage) -> Int {
        var t = Substring(text)
        var negative = false
        if t.first == "+" { t = t.dropFirst() } else if t.first == "-" { negative = true; t = t.dropFirst() }
        guard let v = parseUnsigned(String(t)), v <= UInt64(Int.max) else { throw AssemblyMessage("invalid number '\(text)'") }
        return negative ? -Int(v) : Int(v)
    }

    /// A 32-bit immediate: a signed value, or an unsigned one taken as its bit pattern.
    private static func immediate32(_ text: String) throws(AssemblyMessage) -> Int32 {
        let v = try integer(text)
        if let s = Int32(exactly: v) { return s }
        if let u = UInt32(exactly: v) { return Int32(bitPattern: u) }
        throw AssemblyMessage("immediate \(text) does not fit in 32 bits")
    }

    private static func parseUnsigned(_ text: String) -> UInt64? {
        if text.hasPrefix("0x") || text.hasPrefix("0X") { return UInt64(text.dropFirst(2), radix: 16) }
        return UInt64(text)
    }
}

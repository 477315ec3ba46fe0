/// Prints instructions in the Linux kernel's verifier-log syntax, the one `bpftool prog dump
/// xlated` shows: `r1 = *(u32 *)(r2 +4)`, `if r1 > 0x10 goto pc+3`, `w0 += w1`.
public enum Disassembler {
    /// The text of one instruction. For a wide `lddw`, pass the slot that follows as `next`.
    public static func text(_ insn: Instruction, next: Instruction? = nil) -> String {
        switch insn.opClass {
        case .alu, .alu64: alu(insn)
        case .jmp, .jmp32: jump(insn)
        case .ld: ld(insn, next: next)
        case .ldx:
            "r\(insn.dst) = *(\(sizeName(insn, signed: insn.opcode & 0xe0 == MemMode.memsx.rawValue)) *)(r\(insn.src) \(signedOffset(insn.offset)))"
        case .st:
            "*(\(sizeName(insn)) *)(r\(insn.dst) \(signedOffset(insn.offset))) = \(insn.imm)"
        case .stx: stx(insn)
        }
    }

    /// A whole program, one instruction a line as `   0: (b7) r0 = 1`, wide instructions
    /// taking two slots, like `bpftool prog dump xlated`.
    public static func listing(_ instructions: [Instruction]) -> String {
        var lines: [String] = []
        let width = String(max(instructions.count - 1, 0)).count
        var i = 0
        while i < instructions.count {
            let insn = instructions[i]
            let next = insn.isWide && i + 1 < instructions.count ? instructions[i + 1] : nil
            let index = String(i).leftPadded(to: width, with: " ")
            lines.append("\(index): (\(hexString(CollectionOfOne(insn.opcode)))) \(text(insn, next: next))")
            i += next == nil ? 1 : 2
        }
        return lines.joined(separator: "\n")
    }

    private static func signedOffset(_ offset: Int16) -> String { offset < 0 ? "\(offset)" : "+\(offset)" }

    private static func sizeName(_ insn: Instruction, signed: Bool = false) -> String {
        let bits = (MemSize(rawValue: insn.opcode & 0x18) ?? .w).byteCount * 8
        return (signed ? "s" : "u") + String(bits)
    }

    private static let aluSymbols: [ALUOp: String] = [
        .add: "+=", .sub: "-=", .mul: "*=", .div: "/=", .or: "|=", .and: "&=", .lsh: "<<=", .rsh: ">>=",
        .mod: "%=", .xor: "^=", .mov: "=", .arsh: "s>>=",
    ]

    private static func alu(_ insn: Instruction) -> String {
        let is64 = insn.opClass == .alu64
        let r = is64 ? "r" : "w"
        let usesRegister = insn.opcode & 0x08 != 0
        guard let op = ALUOp(rawValue: insn.opcode & 0xf0) else { return "invalid alu opcode \(hex(insn.opcode))" }
        switch op {
        case .neg:
            return "\(r)\(insn.dst) = -\(r)\(insn.dst)"
        case .end:
            let kind = is64 ? "bswap" : (usesRegister ? "be" : "le")
            return "r\(insn.dst) = \(kind)\(insn.imm) r\(insn.dst)"
        case .mov where usesRegister && insn.offset != 0:
            return "\(r)\(insn.dst) = (s\(insn.offset))\(r)\(insn.src)"
        default:
            var symbol = aluSymbols[op] ?? "?="
            if (op == .div || op == .mod) && insn.offset == 1 { symbol = "s" + symbol }
            let operand = usesRegister ? "\(r)\(insn.src)" : "\(insn.imm)"
            return "\(r)\(insn.dst) \(symbol) \(operand)"
        }
    }

    private static let jumpSymbols: [JumpOp: String] = [
        .jeq: "==", .jgt: ">", .jge: ">=", .jset: "&", .jne: "!=", .jsgt: "s>", .jsge: "s>=",
        .jlt: "<", .jle: "<=", .jslt: "s<", .jsle: "s<=",
    ]

    private static func jump(_ insn: Instruction) -> String {
        guard let op = JumpOp(rawValue: insn.opcode & 0xf0) else { return "invalid jump opcode \(hex(insn.opcode))" }
        let r = insn.opClass == .jmp32 ? "w" : "r"
        switch op {
        case .ja:
            return insn.opClass == .jmp32 ? "gotol pc\(signed(Int(insn.imm)))" : "goto pc\(signed(Int(insn.offset)))"
        case .exit:
            return "exit"
        case .call:
            if insn.opcode & 0x08 != 0 { return "callx r\(insn.dst)" }
            switch CallKind(rawValue: insn.src) {
            case .local: return "call pc\(signed(Int(insn.imm)))"
            case .kfunc: return "call kernel-function#\(insn.imm)"
            default:
                if let name = HelperID(rawValue: insn.imm).name { return "call bpf_\(name)#\(insn.imm)" }
                return "call unknown#\(insn.imm)"
            }
        default:
            let operand = insn.opcode & 0x08 != 0 ? "\(r)\(insn.src)" : "0x\(String(UInt32(bitPattern: insn.imm), radix: 16))"
            return "if \(r)\(insn.dst) \(jumpSymbols[op] ?? "?") \(operand) goto pc\(signed(Int(insn.offset)))"
        }
    }

    private static func signed(_ v: Int) -> String { v < 0 ? "\(v)" : "+\(v)" }

    private static func ld(_ insn: Instruction, next: Instruction?) -> String {
        let mode = insn.opcode & 0xe0
        if mode == MemMode.abs.rawValue { return "r0 = *(\(sizeName(insn)) *)skb[\(insn.imm)]" }
        if mode == MemMode.ind.rawValue { return "r0 = *(\(sizeName(insn)) *)skb[r\(insn.src) + \(insn.imm)]" }
        guard insn.isWide else { return "invalid ld opcode \(hex(insn.opcode))" }
        let high = next.map { UInt64(UInt32(bitPattern: $0.imm)) } ?? 0
        let value = high << 32 | UInt64(UInt32(bitPattern: insn.imm))
        switch WideImmediateKind(rawValue: insn.src) {
        case .mapFD: return "r\(insn.dst) = map[fd:\(insn.imm)]"
        case .mapValue: return "r\(insn.dst) = map[fd:\(insn.imm)][0]+\(high)"
        case .mapIndex: return "r\(insn.dst) = map[idx:\(insn.imm)]"
        case .mapIndexValue: return "r\(insn.dst) = map[idx:\(insn.imm)][0]+\(high)"
        case .btfID: return "r\(insn.dst) = btf_id[\(insn.imm)]"
        case .function: return "r\(insn.dst) = func pc\(signed(Int(insn.imm)))"
        case .immediate, nil: return "r\(insn.dst) = 0x\(String(value, radix: 16))"
        }
    }

    private static let atomicNames: [AtomicOp: String] = [
        .add: "+=", .or: "|=", .and: "&=", .xor: "^=",
        .fetchAdd: "add", .fetchOr: "or", .fetchAnd: "and", .fetchXor: "xor",
    ]

    private static func stx(_ insn: Instruction) -> String {
        let target = "(\(sizeName(insn)) *)(r\(insn.dst) \(signedOffset(insn.offset)))"
        guard insn.opcode & 0xe0 == MemMode.atomic.rawValue else { return "*\(target) = r\(insn.src)" }
        let width = insn.opcode & 0x18 == MemSize.dw.rawValue ? "64" : ""
        switch AtomicOp(rawValue: insn.imm) {
        case .add, .or, .and, .xor: return "lock *\(target) \(atomicNames[AtomicOp(rawValue: insn.imm)!]!) r\(insn.src)"
        case .fetchAdd, .fetchOr, .fetchAnd, .fetchXor:
            return "r\(insn.src) = atomic\(width)_fetch_\(atomicNames[AtomicOp(rawValue: insn.imm)!]!)(\(target), r\(insn.src))"
        case .xchg: return "r\(insn.src) = atomic\(width)_xchg(\(target), r\(insn.src))"
        case .cmpxchg: return "r0 = atomic\(width)_cmpxchg(\(target), r0, r\(insn.src))"
        case nil: return "invalid atomic op \(insn.imm)"
        }
    }
}

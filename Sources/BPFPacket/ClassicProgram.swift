/// A classic BPF program (`struct sock_filter`s: the BSD packet filter that tcpdump and libpcap
/// compile filters to), checked as the kernel's `bpf_check_classic` checks one.
public struct ClassicProgram: Sendable, Equatable {
    /// One instruction.
    public struct Instruction: Sendable, Equatable {
        public var code: UInt16
        public var jt: UInt8
        public var jf: UInt8
        public var k: UInt32

        public init(code: UInt16, jt: UInt8 = 0, jf: UInt8 = 0, k: UInt32 = 0) {
            self.code = code
            self.jt = jt
            self.jf = jf
            self.k = k
        }

        var instructionClass: UInt16 { code & 0x07 }
        var size: UInt16 { code & 0x18 }
        var mode: UInt16 { code & 0xe0 }
        var op: UInt16 { code & 0xf0 }
        var usesX: Bool { code & 0x08 != 0 }
    }

    /// The kernel's limits: `BPF_MAXINSNS` instructions, `BPF_MEMWORDS` scratch words.
    public static let maxInstructions = 4096, memoryWords = 16
    /// `SKF_AD_OFF`: absolute loads at or past it read ancillary data, not the packet.
    static let ancillaryOffset = Int32(-0x1000)

    public let instructions: [Instruction]
    /// Which instructions some path reaches (classic BPF allows dead code; eBPF does not, so the
    /// translation leaves it out).
    let reachable: [Bool]

    /// Checks `instructions` as `bpf_check_classic` does: known opcodes, scratch words and
    /// shifts in range, no division by a constant zero, jumps forward inside the program, a
    /// return last, and no scratch word read on a path that has not written it.
    /// - Throws: ``PacketCaptureError`` naming the instruction.
    public init(_ instructions: [Instruction]) throws(PacketCaptureError) {
        func fail(_ pc: Int?, _ reason: String) -> PacketCaptureError { PacketCaptureError(.invalidClassicProgram, at: pc, reason) }
        guard !instructions.isEmpty, instructions.count <= Self.maxInstructions else {
            throw fail(nil, "\(instructions.count) instructions (1 to \(Self.maxInstructions))")
        }
        let count = instructions.count
        for (pc, insn) in instructions.enumerated() {
            guard Self.knownCodes.contains(insn.code) else { throw fail(pc, "unknown opcode 0x\(String(insn.code, radix: 16))") }
            switch insn.instructionClass {
            case 0x00, 0x01:  // LD, LDX
                if insn.mode == 0x60, insn.k >= UInt32(Self.memoryWords) { throw fail(pc, "scratch word \(insn.k) (0 to 15)") }
                if insn.mode == 0x20 || insn.mode == 0x40 || insn.mode == 0xa0, Int32(bitPattern: insn.k) <= Self.ancillaryOffset,
                    Int32(bitPattern: insn.k) > -0x10_0000
                {
                    throw fail(pc, "ancillary data (SKF_AD_OFF + \(Int32(bitPattern: insn.k) - Self.ancillaryOffset)) is not supported")
                }
            case 0x02, 0x03:  // ST, STX
                if insn.k >= UInt32(Self.memoryWords) { throw fail(pc, "scratch word \(insn.k) (0 to 15)") }
            case 0x04:  // ALU
                if !insn.usesX, insn.op == 0x30 || insn.op == 0x90, insn.k == 0 { throw fail(pc, "division by zero") }
                if !insn.usesX, insn.op == 0x60 || insn.op == 0x70, insn.k >= 32 { throw fail(pc, "shift by \(insn.k)") }
            case 0x05:  // JMP
                if insn.op == 0x00 {
                    guard insn.k < UInt32(count - pc - 1) else { throw fail(pc, "jump by \(insn.k) leaves the program") }
                } else {
                    guard pc + Int(insn.jt) + 1 < count, pc + Int(insn.jf) + 1 < count else { throw fail(pc, "a branch leaves the program") }
                }
            default: break
            }
        }
        guard instructions[count - 1].instructionClass == 0x06 else { throw fail(count - 1, "the last instruction is not a return") }
        // check_load_and_stores: the scratch words written on every path to each instruction.
        var written = [UInt16?](repeating: nil, count: count)
        written[0] = 0
        for pc in 0..<count {
            guard var memory = written[pc] else { continue }  // unreachable
            let insn = instructions[pc]
            switch insn.instructionClass {
            case 0x02, 0x03: memory |= 1 << UInt16(insn.k)
            case 0x00 where insn.mode == 0x60, 0x01 where insn.mode == 0x60:
                guard memory & 1 << UInt16(insn.k) != 0 else { throw fail(pc, "scratch word \(insn.k) is read before it is written") }
            default: break
            }
            func flow(_ target: Int) { written[target] = written[target].map { $0 & memory } ?? memory }
            switch insn.instructionClass {
            case 0x06: continue
            case 0x05 where insn.op == 0x00: flow(pc + 1 + Int(insn.k))
            case 0x05:
                flow(pc + 1 + Int(insn.jt))
                flow(pc + 1 + Int(insn.jf))
            default: flow(pc + 1)
            }
        }
        self.instructions = instructions
        reachable = written.map { $0 != nil }
    }

    /// Parses `tcpdump -ddd` output: the instruction count, then one `code jt jf k` line each
    /// (decimal). Lines separated by newlines or commas.
    public init(text: String) throws(PacketCaptureError) {
        let lines = text.split(whereSeparator: { $0 == "\n" || $0 == "," }).map { $0.split(separator: " ").filter { !$0.isEmpty } }.filter {
            !$0.isEmpty
        }
        guard let first = lines.first, first.count == 1, let count = Int(first[0]), count == lines.count - 1 else {
            throw PacketCaptureError(.invalidClassicProgram, "expected an instruction count, then that many 'code jt jf k' lines (tcpdump -ddd)")
        }
        var instructions: [Instruction] = []
        for (i, fields) in lines.dropFirst().enumerated() {
            guard fields.count == 4, let code = UInt16(fields[0]), let jt = UInt8(fields[1]), let jf = UInt8(fields[2]),
                let k = UInt32(fields[3]) ?? Int32(fields[3]).map(UInt32.init(bitPattern:))
            else {
                throw PacketCaptureError(.invalidClassicProgram, at: i, "'\(fields.joined(separator: " "))' is not 'code jt jf k'")
            }
            instructions.append(Instruction(code: code, jt: jt, jf: jf, k: k))
        }
        try self.init(instructions)
    }

    /// The opcodes the checks accept, for generators of test programs.
    package static var knownCodesForTests: Set<UInt16> { knownCodes }

    /// The opcodes `bpf_check_classic` accepts (its `codes[]`), without the ancillary ones.
    static let knownCodes: Set<UInt16> = {
        var codes: Set<UInt16> = []
        for op: UInt16 in [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0] { codes.formUnion([0x04 | op, 0x04 | op | 0x08]) }
        codes.insert(0x84)  // ALU NEG
        codes.formUnion([0x20, 0x28, 0x30, 0x40, 0x48, 0x50, 0x60, 0x00, 0x80])  // LD: ABS, IND (W H B), MEM, IMM, LEN
        codes.formUnion([0x01, 0x61, 0x81, 0xb1])  // LDX: IMM, MEM, LEN, B MSH
        codes.formUnion([0x02, 0x03])  // ST, STX
        codes.formUnion([0x07, 0x87])  // TAX, TXA
        codes.formUnion([0x06, 0x16])  // RET K, RET A
        codes.insert(0x05)  // JA
        for op: UInt16 in [0x10, 0x20, 0x30, 0x40] { codes.formUnion([0x05 | op, 0x05 | op | 0x08]) }
        return codes
    }()
}

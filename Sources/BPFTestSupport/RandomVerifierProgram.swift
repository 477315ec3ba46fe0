package import BPFCore

/// A random program shaped to reach a verifier's interesting cases (`contextLoads`: the
/// context fields the prologue may load, offset and `MemSize` bits): registers start as
/// constants, context fields and stack pointers; the body mixes arithmetic (both widths),
/// masks that bound values, pointer arithmetic with constants and registers, loads and stores
/// through the context, the stack and whatever register (at offsets near and past the edges),
/// atomics, forward branches that compare with constants and registers, and the odd backward
/// branch (a loop that may or may not end).
package func randomVerifierProgram(_ g: inout SplitMix64, contextLoads: [(offset: Int16, size: UInt8)]) -> [Instruction] {
    func reg(_ g: inout SplitMix64) -> UInt8 { [0, 2, 3, 4, 5, 6, 7, 8, 9][g.below(9)] }
    let sizes: [UInt8] = [0x00, 0x08, 0x10, 0x18]
    var code: [Instruction] = []
    for r: UInt8 in [0, 2, 3, 4, 5, 6, 7, 8, 9] {
        switch g.below(10) {
        case 0...5: code.append(Instruction(opcode: 0xb7, dst: r, imm: Int32(g.below(80)) - 8))
        case 6...8:
            let field = contextLoads[g.below(contextLoads.count)]
            code.append(Instruction(opcode: 0x61 | field.size, dst: r, src: 1, offset: field.offset))
        default: code.append(Instruction(opcode: 0xbf, dst: r, src: 10))
        }
    }
    for slot in 1...8 { code.append(Instruction(opcode: 0x7a, dst: 10, offset: Int16(-8 * slot), imm: Int32(g.below(9)))) }
    let length = 5 + g.below(40)
    var body: [Instruction] = []
    let alu: [UInt8] = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xb0, 0xc0]
    let jumps: [UInt8] = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0]
    for i in 0..<length {
        let cls: UInt8 = g.below(3) == 0 ? 0x04 : 0x07
        switch g.below(24) {
        case 0...4:
            let op = alu[g.below(alu.count)]
            if g.below(2) == 0 {
                let imm: Int32 = (op == 0x60 || op == 0x70 || op == 0xc0) ? Int32(g.below(32)) : Int32(g.below(300)) - 100
                body.append(Instruction(opcode: cls | op, dst: reg(&g), imm: imm))
            } else {
                body.append(Instruction(opcode: cls | 0x08 | op, dst: reg(&g), src: reg(&g)))
            }
        case 5, 6:
            body.append(Instruction(opcode: 0x57, dst: reg(&g), imm: [7, 15, 31, 63, 255][g.below(5)]))
        case 7:
            body.append(Instruction(opcode: 0xbf, dst: reg(&g), src: g.below(2) == 0 ? 10 : 1))
        case 8:
            body.append(Instruction(opcode: 0x07, dst: reg(&g), imm: Int32(g.below(80)) - 72))
        case 9:
            body.append(Instruction(opcode: 0x0f, dst: reg(&g), src: reg(&g)))
        case 10...15:
            let base: UInt8 = [1, 10, 10, 10, 1, 10, 1, reg(&g)][g.below(8)]
            let sizeIndex = g.below(4)
            let size = sizes[sizeIndex], width = [4, 2, 1, 8][sizeIndex]
            // Mostly aligned, now and then at the edges or past them.
            let slotCount = base == 10 ? 70 : 10
            var offset = Int16(width * g.below(slotCount * 8 / width)) - (base == 10 ? 528 : 8)
            if base == 10, g.below(3) != 0 { offset = Int16(-8 * (1 + g.below(8))) }
            switch g.below(3) {
            case 0: body.append(Instruction(opcode: 0x61 | size, dst: reg(&g), src: base, offset: offset))
            case 1: body.append(Instruction(opcode: 0x62 | size, dst: base, offset: offset, imm: Int32(g.below(10))))
            default: body.append(Instruction(opcode: 0x63 | size, dst: base, src: reg(&g), offset: offset))
            }
        case 16:
            body.append(Instruction(opcode: 0xdb, dst: 10, src: reg(&g), offset: Int16(-8 * (1 + g.below(9))), imm: [0x00, 0x01, 0xe1, 0xf1][g.below(4)]))
        case 17...21:
            let jcls: UInt8 = g.below(3) == 0 ? 0x06 : 0x05
            let op = jumps[g.below(jumps.count)]
            let distance = Int16(1 + g.below(min(6, length - i)))
            if g.below(2) == 0 {
                body.append(Instruction(opcode: jcls | op, dst: reg(&g), offset: distance, imm: Int32(g.below(64))))
            } else {
                body.append(Instruction(opcode: jcls | 0x08 | op, dst: reg(&g), src: reg(&g), offset: distance))
            }
        case 22:
            if i > 2 { body.append(Instruction(opcode: 0xa5, dst: reg(&g), offset: -Int16(1 + g.below(min(i, 6))), imm: Int32(g.below(40)))) }
        default:
            body.append(Instruction(opcode: 0x95))
        }
    }
    // Forward jumps past the end land on the final exit.
    for i in body.indices where body[i].opClass == .jmp || body[i].opClass == .jmp32 {
        if body[i].offset > 0, i + 1 + Int(body[i].offset) > body.count { body[i].offset = Int16(body.count - i - 1) }
    }
    code += body
    code.append(Instruction(opcode: 0x95))
    return code
}

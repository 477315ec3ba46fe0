public import BPFCore
public import BTF

/// A program ready for a backend: subprograms it calls in `.text` appended and its calls
/// pointed at them, and every map or global-data reference listed for the backend to fill in
/// (a map's descriptor in the kernel, an address in userspace). No system calls happen here.
public struct LinkedProgram: Sendable {
    /// A `lddw` that must load a map (`valueOffset` nil) or an address inside its value.
    public struct MapReference: Sendable, Equatable {
        /// Index of the `lddw`.
        public var instruction: Int
        /// Index into ``ObjectFile/maps``.
        public var map: Int
        /// Byte offset into the map's (single) value, for global data.
        public var valueOffset: Int?
    }

    public var name: String
    public var kind: SectionNames.Match?
    public var instructions: [Instruction]
    public var mapReferences: [MapReference]
}

extension ObjectFile {
    /// Links `program`: appends `.text` when the program calls into it, resolves those calls,
    /// resolves map and global-data references, and, given the `target` kernel's BTF, applies
    /// CO-RE relocations (without one, the program keeps the offsets it was compiled with).
    /// - Throws: ``ObjectError`` for a relocation that is not a map, global data or a call into
    ///   `.text`, or a CO-RE relocation the target cannot satisfy, naming the instruction.
    public func link(_ program: Program, target: BTF? = nil) throws(ObjectError) -> LinkedProgram {
        var code = program.instructions
        var references: [LinkedProgram.MapReference] = []
        let text = elf.section(named: ".text")
        let textIndex = text?.index ?? -1
        // Relocations to process, with the code offset of the part they belong to.
        var pending = program.relocations.map { (relocation: $0, base: 0) }
        var textBase: Int?
        var next = 0
        while next < pending.count {
            let (relocation, base) = pending[next]
            next += 1
            let index = base + Int(relocation.offset / 8)
            let symbol = elf.symbols[relocation.symbol]
            func fail(_ message: String) -> ObjectError {
                ObjectError(section: program.section, "program \(program.name), instruction \(index): relocation against '\(symbol.name)': \(message)")
            }
            guard relocation.offset % 8 == 0, index < code.count else { throw fail("not on an instruction") }
            if code[index].opcode == 0x85, code[index].src == CallKind.local.rawValue {
                guard Int(symbol.sectionIndex) == textIndex, let text else {
                    throw fail("calls outside .text are not supported yet")
                }
                if textBase == nil {
                    // Append .text once, with its own relocations.
                    textBase = code.count
                    let textCode: [Instruction]
                    do { textCode = try Instruction.decode(elf.data(of: text)) } catch { throw ObjectError(section: ".text", error.description) }
                    code += textCode
                    pending += try elf.relocations(for: text.index).map { ($0, textBase!) }
                }
                let target = textBase! + Int(symbol.value / 8) + Int(code[index].imm) + 1
                guard target >= textBase!, target < code.count else { throw fail("the call lands outside .text") }
                code[index].imm = Int32(target - index - 1)
                continue
            }
            guard code[index].isWide, index + 1 < code.count else { throw fail("\(Disassembler.text(code[index])) is neither a lddw nor a call") }
            guard let map = map(for: relocation), let position = maps.firstIndex(of: map) else {
                throw fail("not a map, global data or a call into .text")
            }
            var offset: Int? = nil
            if map.initialValue != nil {
                let value = Int(symbol.value) + Int(code[index].imm)
                guard value >= 0, value < map.valueSize else { throw fail("offset \(value) is outside \(map.name) (\(map.valueSize) bytes)") }
                offset = value
            }
            references.append(.init(instruction: index, map: position, valueOffset: offset))
        }
        if let target, let btf, let btfExt {
            // Indexing the target's type names (vmlinux: ~100k) is the costly part: only for a
            // program that has a record.
            var relocator: CORERelocator?
            var parts = [(section: program.section, start: program.sectionOffset, end: program.sectionOffset + program.instructions.count * 8, base: 0)]
            if let textBase { parts.append((".text", 0, Int.max, textBase)) }
            for part in parts {
                for record in btfExt.coreRelocations.first(where: { btf.name($0.sectionNameOffset) == part.section })?.records ?? []
                where Int(record.instructionOffset) >= part.start && Int(record.instructionOffset) < part.end {
                    let index = part.base + (Int(record.instructionOffset) - part.start) / 8
                    guard index < code.count else { continue }
                    let text = Disassembler.text(code[index])  // not read inside `fail`: `patch` holds `code`
                    func fail(_ message: String) -> ObjectError {
                        ObjectError(section: part.section, "program \(program.name), instruction \(index) (\(text)): CO-RE: \(message)")
                    }
                    let resolution: CORERelocator.Resolution
                    if relocator == nil { relocator = CORERelocator(local: btf, target: target) }
                    do { resolution = try relocator!.resolve(record) } catch { throw fail(error.message) }
                    try Self.patch(&code, at: index, resolution, fail)
                }
            }
        }
        return LinkedProgram(name: program.name, kind: program.kind, instructions: code, mapReferences: references)
    }

    /// Writes a CO-RE result into the instruction that holds the compiled-in value: a memory
    /// offset, an ALU immediate, or a `lddw` constant.
    private static func patch(_ code: inout [Instruction], at index: Int, _ r: CORERelocator.Resolution,
                              _ fail: (String) -> ObjectError) throws(ObjectError) {
        let insn = code[index]
        switch insn.opClass {
        case .ldx, .st, .stx:
            guard !r.validate || UInt64(bitPattern: Int64(insn.offset)) == r.local else { throw fail("the offset is \(insn.offset), the local type says \(r.local)") }
            guard let offset = Int16(exactly: r.target) else { throw fail("offset \(r.target) does not fit an instruction") }
            code[index].offset = offset
        case .alu where insn.opcode & 0x08 == 0, .alu64 where insn.opcode & 0x08 == 0:
            guard !r.validate || UInt64(bitPattern: Int64(insn.imm)) == r.local || UInt64(UInt32(bitPattern: insn.imm)) == r.local else {
                throw fail("the immediate is \(insn.imm), the local type says \(r.local)")
            }
            guard let imm = Int32(exactly: r.target) else { throw fail("value \(r.target) does not fit an immediate") }
            code[index].imm = imm
        case .ld where insn.isWide && index + 1 < code.count:
            code[index].imm = Int32(truncatingIfNeeded: r.target)
            code[index + 1].imm = Int32(truncatingIfNeeded: r.target >> 32)
        default:
            throw fail("the instruction holds no value to relocate")
        }
    }
}

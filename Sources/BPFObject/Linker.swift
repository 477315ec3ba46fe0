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
    /// BTF function info: the `FUNC` type of the program and of each subprogram linked in, with
    /// `instructionOffset` the index of its first instruction (as `BPF_PROG_LOAD` takes it).
    public var functionInfo: [BTFExt.FunctionInfo] = []
    /// BTF line info, with `instructionOffset` an index into ``instructions``.
    public var lineInfo: [BTFExt.LineInfo] = []
    /// Instructions a CO-RE relocation could not resolve against the target, poisoned as libbpf
    /// poisons them (a call no kernel has), with why: what a refusal there means.
    public var poisoned: [Int: String] = [:]
}

extension ObjectFile {
    /// A piece of code in a linked program: its byte range in its section, and the index of its
    /// first instruction in the program.
    private struct Part {
        var section: String
        var start: Int
        var end: Int
        var base: Int
        func index(_ byteOffset: UInt32) -> Int? {
            let offset = Int(byteOffset)
            return offset >= start && offset < end ? base + (offset - start) / 8 : nil
        }
    }

    /// Links `program`: appends each function of `.text` it calls (directly or through other
    /// such functions) once, resolves those calls, resolves map and global-data references,
    /// carries BTF function and line info over to the linked instructions, and, given the
    /// `target` kernel's BTF, applies CO-RE relocations (without one, the program keeps the
    /// offsets it was compiled with). Functions it does not call stay out, as with libbpf: the
    /// kernel refuses unreachable code.
    /// - Throws: ``ObjectError`` for a relocation that is not a map, global data or a call into
    ///   `.text`, or a CO-RE relocation the target cannot satisfy, naming the instruction.
    public func link(_ program: Program, target: BTF? = nil) throws(ObjectError) -> LinkedProgram {
        var code = program.instructions
        var references: [LinkedProgram.MapReference] = []
        let text = elf.section(named: ".text")
        var parts = [
            Part(
                section: program.section, start: program.sectionOffset,
                end: program.sectionOffset + program.instructions.count * 8, base: 0)
        ]
        // Relocations to process; the instruction is `base + offset / 8`.
        var pending = program.relocations.map { (relocation: $0, base: 0) }
        var textCode: [Instruction] = [], textRelocations: [ELFFile.Relocation] = []
        if let text, program.relocations.contains(where: { Int(elf.symbols[$0.symbol].sectionIndex) == text.index }) {
            do { textCode = try Instruction.decode(elf.data(of: text)) } catch { throw ObjectError(section: ".text", error.description) }
            textRelocations = try elf.relocations(for: text.index)
        }
        let relocatedInText = Set(textRelocations.map(\.offset))
        /// Where the code at `.text` byte `offset` is in the program, its function appended first
        /// when it is not yet.
        func linkedIndex(ofTextByte offset: Int) -> Int? {
            guard let text, let function = textFunction(containing: offset, in: text) else { return nil }
            if let part = parts.first(where: { $0.section == ".text" && $0.start == function.lowerBound }) { return part.index(UInt32(offset)) }
            let part = Part(section: ".text", start: function.lowerBound, end: function.upperBound, base: code.count)
            parts.append(part)
            code += textCode[(function.lowerBound / 8)..<(function.upperBound / 8)]
            pending += textRelocations.filter { function.contains(Int(truncatingIfNeeded: $0.offset)) }.map { ($0, part.base - part.start / 8) }
            return part.index(UInt32(offset))
        }
        var poisoned: [Int: String] = [:]
        var next = 0, scanned = 1
        while next < pending.count || scanned < parts.count {
            // Calls between .text functions that need no relocation hold the callee's distance.
            if next == pending.count {
                let part = parts[scanned]
                scanned += 1
                for i in part.base..<(part.base + (part.end - part.start) / 8) {
                    let byte = part.start + (i - part.base) * 8
                    guard code[i].opcode == 0x85, code[i].src == CallKind.local.rawValue, !relocatedInText.contains(UInt64(byte)) else { continue }
                    guard let target = linkedIndex(ofTextByte: byte + (Int(code[i].imm) + 1) * 8) else {
                        throw ObjectError(section: ".text", offset: byte, "program \(program.name): the call lands on no function in .text")
                    }
                    code[i].imm = Int32(target - i - 1)
                }
                continue
            }
            let (relocation, base) = pending[next]
            next += 1
            let index = base + Int(relocation.offset / 8)
            let symbol = elf.symbols[relocation.symbol]
            func fail(_ message: String) -> ObjectError {
                ObjectError(section: program.section, "program \(program.name), instruction \(index): relocation against '\(symbol.name)': \(message)")
            }
            guard relocation.offset % 8 == 0, index >= 0, index < code.count else { throw fail("not on an instruction") }
            if symbol.sectionIndex == 0, !kconfigExterns.contains(where: { $0.name == symbol.name }) {
                try Self.resolveKernelSymbol(&code, at: index, symbol, target: target, poisoned: &poisoned, fail)
                continue
            }
            if code[index].opcode == 0x85, code[index].src == CallKind.local.rawValue {
                guard let text, Int(symbol.sectionIndex) == text.index else {
                    throw fail("calls outside .text are not supported yet")
                }
                // Wrapping: an absurd symbol value lands outside .text and is refused there.
                guard let target = linkedIndex(ofTextByte: Int(truncatingIfNeeded: symbol.value) &+ (Int(code[index].imm) + 1) * 8) else {
                    throw fail("the call lands on no function in .text")
                }
                code[index].imm = Int32(target - index - 1)
                continue
            }
            guard code[index].isWide, index + 1 < code.count else { throw fail("\(Disassembler.text(code[index])) is neither a lddw nor a call") }
            if let text, Int(symbol.sectionIndex) == text.index {
                // A function's address (a callback for bpf_loop and the like): BPF_PSEUDO_FUNC,
                // the distance to the function, appended like a callee.
                guard let target = linkedIndex(ofTextByte: Int(truncatingIfNeeded: symbol.value) &+ Int(code[index].imm)) else {
                    throw fail("the function address lands on no function in .text")
                }
                code[index].src = WideImmediateKind.function.rawValue
                code[index].imm = Int32(target - index - 1)
                code[index + 1].imm = 0
                continue
            }
            guard let map = map(for: relocation), let position = maps.firstIndex(of: map) else {
                throw fail("not a map, global data or a call into .text")
            }
            var offset: Int? = nil
            if map.initialValue != nil {
                // A kconfig extern's place is the .kconfig map's layout, not its (undefined) symbol.
                let base = kconfigExterns.first { symbol.sectionIndex == 0 && $0.name == symbol.name }?.offset ?? Int(truncatingIfNeeded: symbol.value)
                let value = base &+ Int(code[index].imm)
                guard value >= 0, value < map.valueSize else { throw fail("offset \(value) is outside \(map.name) (\(map.valueSize) bytes)") }
                offset = value
            }
            references.append(.init(instruction: index, map: position, valueOffset: offset))
        }
        var linked = LinkedProgram(name: program.name, kind: program.kind, instructions: code, mapReferences: references)
        linked.poisoned = poisoned
        guard let btf, let btfExt else { return linked }
        for part in parts {
            for var record in btfExt.functions.first(where: { btf.name($0.sectionNameOffset) == part.section })?.records ?? [] {
                guard let index = part.index(record.instructionOffset) else { continue }
                record.instructionOffset = UInt32(index)
                linked.functionInfo.append(record)
            }
            for var record in btfExt.lines.first(where: { btf.name($0.sectionNameOffset) == part.section })?.records ?? [] {
                guard let index = part.index(record.instructionOffset) else { continue }
                record.instructionOffset = UInt32(index)
                linked.lineInfo.append(record)
            }
        }
        guard let target else { return linked }
        // Indexing the target's type names (vmlinux: ~100k) is the costly part: only for a
        // program that has a record.
        var relocator: CORERelocator?
        for part in parts {
            for record in btfExt.coreRelocations.first(where: { btf.name($0.sectionNameOffset) == part.section })?.records ?? [] {
                guard let index = part.index(record.instructionOffset), index < code.count else { continue }
                let text = Disassembler.text(linked.instructions[index])  // not read inside `fail`: `patch` holds the code
                func fail(_ message: String) -> ObjectError {
                    ObjectError(section: part.section, "program \(program.name), instruction \(index) (\(text)): CO-RE: \(message)")
                }
                let resolution: CORERelocator.Resolution
                if relocator == nil { relocator = CORERelocator(local: btf, target: target) }
                do { resolution = try relocator!.resolve(record) } catch {
                    guard error.unresolvable else { throw fail(error.message) }
                    // As libbpf does: the instruction becomes a call no kernel has, which the
                    // verifier refuses only on a path that reaches it (programs guard such
                    // accesses with bpf_core_field_exists or ___flavor variants).
                    Self.poison(&linked.instructions, at: index)
                    linked.poisoned[index] = error.message
                    continue
                }
                try Self.patch(&linked.instructions, at: index, resolution, fail)
            }
        }
        return linked
    }

    /// An `extern … __ksym` function (a kfunc) resolved as libbpf resolves it against the
    /// `target` kernel's BTF: a call becomes `BPF_PSEUDO_KFUNC_CALL` with the function's BTF id,
    /// its address (`bpf_ksym_exists`) a `BPF_PSEUDO_BTF_ID` load. A `__weak` one the kernel lacks
    /// reads as address 0 and its calls are poisoned (refused only where reached).
    private static func resolveKernelSymbol(
        _ code: inout [Instruction], at index: Int, _ symbol: ELFFile.Symbol, target: BTF?, poisoned: inout [Int: String],
        _ fail: (String) -> ObjectError
    ) throws(ObjectError) {
        guard let target else { throw fail("the kernel symbol is resolved against the kernel's BTF, and none was given") }
        let id = target.typeID(named: symbol.name) { if case .function = $0 { true } else { false } }
        let isCall = code[index].opcode == OpClass.jmp.rawValue | JumpOp.call.rawValue
        guard isCall || (code[index].isWide && index + 1 < code.count) else {
            throw fail("\(Disassembler.text(code[index])) is neither a lddw nor a call")
        }
        guard let id else {
            guard symbol.binding == 2 else { throw fail("kernel function not found in the kernel's BTF (declare it __weak to test for it)") }
            if isCall {
                poison(&code, at: index)
                poisoned[index] = "kernel function '\(symbol.name)' is not in the kernel's BTF"
            } else {
                code[index].src = WideImmediateKind.immediate.rawValue
                code[index].imm = 0
                code[index + 1].imm = 0
            }
            return
        }
        if isCall {
            code[index].src = CallKind.kfunc.rawValue
            code[index].offset = 0
        } else {
            code[index].src = WideImmediateKind.btfID.rawValue
            code[index + 1].imm = 0  // the BTF's fd: 0, vmlinux
        }
        code[index].imm = Int32(id)
    }

    /// The byte range of the `.text` function that holds `offset` (all of `.text` when it has
    /// no function symbols), or nil when no function does.
    private func textFunction(containing offset: Int, in text: ELFFile.Section) -> Range<Int>? {
        guard offset >= 0, offset < text.size else { return nil }
        let size = UInt64(text.size)
        let functions = elf.symbols.filter { Int($0.sectionIndex) == text.index && $0.type == 2 && $0.size > 0 }
        if functions.isEmpty { return 0..<text.size }
        return functions.lazy.filter { $0.value < size && $0.size <= size - $0.value }
            .map { Int($0.value)..<Int($0.value + $0.size) }
            .first { $0.contains(offset) && $0.lowerBound % 8 == 0 && $0.upperBound % 8 == 0 }
    }

    /// libbpf's poison: `call 0xbad2310` (`invalid func unknown#195896080` when reached), both
    /// slots of a `lddw`.
    static let poisonHelper: Int32 = 0xbad2310

    /// Replaces the instruction at `index` (both slots of a `lddw`) with the poison call.
    private static func poison(_ code: inout [Instruction], at index: Int) {
        let call = Instruction(opcode: OpClass.jmp.rawValue | JumpOp.call.rawValue, imm: poisonHelper)
        if code[index].isWide, index + 1 < code.count { code[index + 1] = call }
        code[index] = call
    }

    /// Writes a CO-RE result into the instruction that holds the compiled-in value: a memory
    /// offset, an ALU immediate, or a `lddw` constant.
    private static func patch(
        _ code: inout [Instruction], at index: Int, _ r: CORERelocator.Resolution,
        _ fail: (String) -> ObjectError
    ) throws(ObjectError) {
        let insn = code[index]
        switch insn.opClass {
        case .ldx, .st, .stx:
            guard !r.validate || UInt64(bitPattern: Int64(insn.offset)) == r.local else {
                throw fail("the offset is \(insn.offset), the local type says \(r.local)")
            }
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

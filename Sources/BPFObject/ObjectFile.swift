public import BPFCore
public import BTF

/// An eBPF object file as clang compiles it: its programs, with their types from `SEC()`
/// names, their instructions and the relocations that still have to be applied, and the license.
/// Parsing makes no system calls; every backend starts from this.
public struct ObjectFile: Sendable {
    /// One program: a global function in an executable section.
    public struct Program: Sendable {
        /// The function's name.
        public var name: String
        /// The `SEC()` name.
        public var section: String
        /// The program type and attach target, or nil for a section libbpf would not recognize.
        public var kind: SectionNames.Match?
        /// The instructions, relocations not yet applied.
        public var instructions: [Instruction]
        /// Relocations against the program, with offsets relative to its first instruction.
        package var relocations: [ELFFile.Relocation]
        /// Byte offset of the first instruction in its section.
        public var sectionOffset: Int = 0
        /// The program's BTF line records, offsets relative to its first instruction, and the
        /// BTF their names are in.
        var lineRecords: [BTFExt.LineInfo] = []
        var lineBTF: BTF?

        /// C source positions from BTF line info, by instruction index in the program. Made
        /// when asked for (a load into the kernel passes the records and never needs the text).
        public var sourceLines: [SourceLine] {
            guard let btf = lineBTF else { return [] }
            return lineRecords.map {
                SourceLine(
                    instruction: Int($0.instructionOffset) / 8, file: btf.name($0.fileNameOffset), line: Int($0.line),
                    column: Int($0.column), text: btf.name($0.lineOffset))
            }
        }
    }

    /// The C source of an instruction, from BTF line info.
    public struct SourceLine: Sendable, Equatable {
        /// Index of the first instruction the line covers, in the program.
        public var instruction: Int
        public var file: String
        public var line: Int
        public var column: Int
        /// The text of the source line.
        public var text: String
    }

    /// The underlying ELF file.
    package let elf: ELFFile
    /// Programs in section order.
    public private(set) var programs: [Program] = []
    /// The `license` section's text, when present.
    public private(set) var license: String?

    /// Whether the kernel takes `license` as GPL-compatible (`license_is_gpl_compatible`),
    /// which GPL-only helpers require.
    public static func isGPLCompatible(_ license: String?) -> Bool {
        ["GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL"].contains(license ?? "")
    }
    /// The object's type information (`.BTF`), when it was compiled with `-g`.
    public private(set) var btf: BTF?
    /// Function, line and CO-RE records (`.BTF.ext`), when present.
    public private(set) var btfExt: BTFExt?
    /// Whether any program has CO-RE relocations, and so needs a target BTF to load.
    public var usesCORE: Bool { btfExt?.coreRelocations.contains { !$0.records.isEmpty } ?? false }
    /// The maps the object declares, BTF-defined and legacy.
    public internal(set) var maps: [MapDefinition] = []
    /// Replaces the initial value of global data map `name` (`.rodata`, `.data`, `.bss`) before
    /// the object is loaded: how a skeleton sets `const volatile` configuration.
    /// - Throws: ``ObjectError`` when there is no such map or `bytes` is not its size.
    public mutating func setInitialValue(ofMap name: String, to bytes: [UInt8]) throws(ObjectError) {
        guard let i = maps.firstIndex(where: { $0.name == name && $0.initialValue != nil }) else {
            throw ObjectError("no global data map '\(name)' (the object has \(maps.filter { $0.initialValue != nil }.map(\.name)))")
        }
        guard bytes.count == maps[i].valueSize else { throw ObjectError(section: maps[i].section, "\(bytes.count) bytes for a \(maps[i].valueSize)-byte map") }
        maps[i].initialValue = bytes
    }

    /// The object's `extern … __kconfig` variables, held by the `.kconfig` map.
    public private(set) var kconfigExterns: [KconfigExtern] = []

    /// Parses an eBPF object.
    /// - Throws: ``ObjectError`` naming the section and offset of what is malformed.
    public init(bytes: [UInt8]) throws(ObjectError) {
        elf = try ELFFile(bytes: bytes)
        if let section = elf.section(named: "license") {
            license = String(decoding: elf.data(of: section).prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        if let section = elf.section(named: ".BTF") {
            do { btf = try BTF(bytes: Array(elf.data(of: section))) } catch { throw ObjectError(section: ".BTF", error.description) }
        }
        if let section = elf.section(named: ".BTF.ext"), btf != nil {
            do { btfExt = try BTFExt(bytes: Array(elf.data(of: section))) } catch { throw ObjectError(section: ".BTF.ext", error.description) }
        }
        if let btf { maps = try Self.btfMaps(btf, elf: elf) }
        maps += try Self.legacyMaps(elf: elf)
        maps += Self.globalDataMaps(elf: elf)
        if let btf {
            let (externs, map) = Self.kconfigExterns(btf, elf: elf)
            kconfigExterns = externs
            if let map { maps.append(map) }
        }
        maps = maps.map { $0.sizedForLoading() }
        for i in maps.indices where maps[i].initialValue != nil {
            maps[i].valueTypeID = dataSectionTypeID(maps[i].section) ?? 0
        }
        for section in elf.sections where section.isExecutable && section.type == 1 && section.name != ".text" {
            guard section.size % 8 == 0 else {
                throw ObjectError(section: section.name, "code size \(section.size) is not a whole number of 8-byte instructions")
            }
            let code: [Instruction]
            do { code = try Instruction.decode(elf.data(of: section)) } catch { throw ObjectError(section: section.name, error.description) }
            let relocations = try elf.relocations(for: section.index)
            for function in Self.programSymbols(in: section, elf.symbols) {
                let start = Int(truncatingIfNeeded: function.value), size = Int(truncatingIfNeeded: function.size)
                guard start >= 0, size > 0, start % 8 == 0, size % 8 == 0, start <= section.size, size <= section.size - start else {
                    throw ObjectError(
                        section: section.name,
                        "function \(function.name) spans 0x\(String(start, radix: 16))+0x\(String(size, radix: 16)), which is not whole instructions inside the section"
                    )
                }
                programs.append(
                    Program(
                        name: function.name, section: section.name, kind: SectionNames.match(section.name),
                        instructions: Array(code[(start / 8)..<((start + size) / 8)]),
                        relocations: relocations.filter { $0.offset >= UInt64(start) && $0.offset < UInt64(start + size) }
                            .map { ELFFile.Relocation(offset: $0.offset - UInt64(start), symbol: $0.symbol, type: $0.type) },
                        sectionOffset: start, lineRecords: lineRecords(section: section.name, range: start..<(start + size)), lineBTF: btf))
            }
        }
    }

    /// The program named `name`.
    public func program(named name: String) -> Program? { programs.first { $0.name == name } }

    /// The symbols that start programs in a program section, as libbpf and PREVAIL find them:
    /// functions, global or static; on objects from older LLVM, whose program symbols are
    /// `NOTYPE` without a size, named symbols reaching to the next one or the section's end; in
    /// a section with no such symbol, one program named after the section, the whole of it.
    static func programSymbols(in section: ELFFile.Section, _ symbols: [ELFFile.Symbol]) -> [ELFFile.Symbol] {
        let here = symbols.filter { Int($0.sectionIndex) == section.index && !$0.name.isEmpty }.sorted { $0.value < $1.value }
        let functions = here.filter { $0.type == 2 }
        if !functions.isEmpty { return functions }
        // STT_NOTYPE (0), global or weak: sized up to the next one.
        let untyped = here.filter { $0.type == 0 && $0.binding != 0 }
        if !untyped.isEmpty {
            return untyped.enumerated().map { i, symbol in
                var sized = symbol
                if sized.size == 0 {
                    let end = i + 1 < untyped.count ? untyped[i + 1].value : UInt64(section.size)
                    sized.size = end >= symbol.value ? end - symbol.value : 0
                }
                return sized
            }
        }
        guard section.size > 0 else { return [] }
        return [
            ELFFile.Symbol(
                name: section.name.replacing("/", with: "_"), info: 0x12, sectionIndex: UInt16(truncatingIfNeeded: section.index), value: 0,
                size: UInt64(section.size))
        ]
    }

    /// The program named `name`, or the only program when `name` is nil.
    /// - Throws: ``ObjectError`` listing the programs when the choice is missing or ambiguous.
    public func program(selecting name: String?) throws(ObjectError) -> Program {
        if let name, let program = program(named: name) { return program }
        if name == nil, programs.count == 1 { return programs[0] }
        let names = programs.isEmpty ? "none" : programs.map(\.name).joined(separator: ", ")
        throw ObjectError(name.map { "no program named '\($0)' (programs: \(names))" } ?? "the object has \(programs.count) programs (\(names)); name one")
    }

    /// The map a relocation refers to: a map definition's symbol, or a global data section.
    package func map(for relocation: ELFFile.Relocation) -> MapDefinition? {
        let symbol = elf.symbols[relocation.symbol]
        if symbol.sectionIndex == 0, kconfigExterns.contains(where: { $0.name == symbol.name }) {
            return maps.first { $0.name == Self.kconfigMapName }
        }
        guard Int(symbol.sectionIndex) < elf.sections.count else { return nil }
        let section = elf.sections[Int(symbol.sectionIndex)]
        if Self.isGlobalData(section) { return maps.first { $0.section == section.name } }
        return maps.first { $0.section == section.name && $0.name == symbol.name }
    }

    /// Line info records of `section` that fall inside the byte range `range`, their offsets
    /// made relative to its start.
    private func lineRecords(section: String, range: Range<Int>) -> [BTFExt.LineInfo] {
        guard let btf, let btfExt else { return [] }
        let records = btfExt.lines.first { btf.name($0.sectionNameOffset) == section }?.records ?? []
        return records.filter { range.contains(Int($0.instructionOffset)) }.map {
            var record = $0
            record.instructionOffset -= UInt32(range.lowerBound)
            return record
        }
    }
}

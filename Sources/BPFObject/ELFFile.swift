/// A 64-bit little-endian ELF relocatable object, as clang writes for `-target bpf`: the
/// section headers, the symbol table and the relocation records. Every offset and size is
/// checked against the file, so malformed input yields an ``ObjectError``, never a crash.
package struct ELFFile: Sendable {
    /// One section header with its name resolved.
    public struct Section: Sendable {
        public var index: Int
        public var name: String
        public var type: UInt32
        public var flags: UInt64
        /// Where the section is in memory (`sh_addr`; 0 in relocatable objects).
        public var address: UInt64 = 0
        public var offset: Int
        public var size: Int
        public var link: UInt32
        public var info: UInt32
        public var entrySize: Int

        /// Whether the section holds code (`SHF_EXECINSTR`).
        public var isExecutable: Bool { flags & 0x4 != 0 }
        /// Whether the section occupies no file space (`SHT_NOBITS`, e.g. `.bss`).
        public var isNoBits: Bool { type == ELFFile.sectionNoBits }
    }

    /// One symbol table entry.
    public struct Symbol: Sendable {
        public var name: String
        public var info: UInt8
        public var sectionIndex: UInt16
        public var value: UInt64
        public var size: UInt64

        /// `STT_*`: 1 object, 2 function, 3 section.
        public var type: UInt8 { info & 0x0f }
        /// `STB_*`: 0 local, 1 global, 2 weak.
        public var binding: UInt8 { info >> 4 }
    }

    /// One `SHT_REL` record: patch at `offset` inside the target section, against `symbol`.
    public struct Relocation: Sendable {
        public var offset: UInt64
        public var symbol: Int
        public var type: UInt32
    }

    static let sectionProgBits: UInt32 = 1, sectionSymtab: UInt32 = 2, sectionStrtab: UInt32 = 3
    static let sectionRel: UInt32 = 9, sectionNoBits: UInt32 = 8
    /// `EM_BPF`.
    public static let machineBPF: UInt16 = 247

    /// The whole file.
    public let bytes: [UInt8]
    /// `e_machine`: 247 for eBPF, 62 for x86-64, 183 for arm64.
    public let machine: UInt16
    /// Sections in header order (index 0 is the null section).
    public private(set) var sections: [Section] = []
    /// The symbol table (empty when the object has none).
    public private(set) var symbols: [Symbol] = []

    /// Parses `bytes` as an ELF64 little-endian eBPF object (with `anyMachine`, an ELF64
    /// little-endian file for any machine: an executable or library whose notes are read).
    public init(bytes: [UInt8], anyMachine: Bool = false) throws(ObjectError) {
        self.bytes = bytes
        let r = ByteReader(bytes)
        guard bytes.count >= 64 else { throw ObjectError(offset: 0, "not an ELF file: \(bytes.count) bytes is shorter than an ELF header") }
        guard bytes[0] == 0x7f, bytes[1] == 0x45, bytes[2] == 0x4c, bytes[3] == 0x46 else { throw ObjectError(offset: 0, "not an ELF file: bad magic") }
        guard bytes[4] == 2 else { throw ObjectError(offset: 4, "not a 64-bit ELF file") }
        guard bytes[5] == 1 else { throw ObjectError(offset: 5, "not a little-endian ELF file (big-endian eBPF objects are not supported)") }
        let machine = try r.u16(18)
        // EM_NONE too, as libbpf accepts it: what some older toolchains wrote.
        self.machine = machine
        guard anyMachine || machine == Self.machineBPF || machine == 0 else {
            throw ObjectError(offset: 18, "not an eBPF object: e_machine is \(machine), expected 247 (EM_BPF)")
        }
        let sectionTable = try r.offset(40)
        let entrySize = Int(try r.u16(58))
        let count = Int(try r.u16(60))
        let namesIndex = Int(try r.u16(62))
        guard count > 0 else { throw ObjectError(offset: 60, "the object has no section headers") }
        guard entrySize == 64 else { throw ObjectError(offset: 58, "section header size is \(entrySize), expected 64") }
        guard sectionTable <= bytes.count, count * 64 <= bytes.count - sectionTable else {
            throw ObjectError(offset: 40, "section header table (\(count) entries at 0x\(String(sectionTable, radix: 16))) runs past the end of the file")
        }
        var raw: [Section] = []
        for i in 0..<count {
            let at = sectionTable + i * 64
            let section = Section(
                index: i, name: "", type: try r.u32(at + 4), flags: try r.u64(at + 8), address: try r.u64(at + 16),
                offset: try r.offset(at + 24), size: try r.offset(at + 32),
                link: try r.u32(at + 40), info: try r.u32(at + 44), entrySize: try r.offset(at + 56))
            if section.type != Self.sectionNoBits, section.type != 0,
                section.offset > bytes.count || section.size > bytes.count - section.offset
            {
                throw ObjectError(
                    section: "#\(i)", offset: at,
                    "section data (0x\(String(section.size, radix: 16)) bytes at 0x\(String(section.offset, radix: 16))) runs past the end of the file")
            }
            raw.append(section)
        }
        guard namesIndex < count, raw[namesIndex].type == Self.sectionStrtab else {
            throw ObjectError(offset: 62, "section name table index \(namesIndex) is not a string table")
        }
        let nameTable = raw[namesIndex]
        for i in raw.indices {
            raw[i].name = try r.string(in: nameTable, at: Int(try r.u32(sectionTable + i * 64)), what: "section #\(i) name")
        }
        sections = raw
        if let symtab = raw.first(where: { $0.type == Self.sectionSymtab }) {
            guard symtab.entrySize == 24 else { throw ObjectError(section: symtab.name, "symbol entry size is \(symtab.entrySize), expected 24") }
            guard Int(symtab.link) < raw.count, raw[Int(symtab.link)].type == Self.sectionStrtab else {
                throw ObjectError(section: symtab.name, "symbol string table index \(symtab.link) is not a string table")
            }
            let strings = raw[Int(symtab.link)]
            for k in 0..<(symtab.size / 24) {
                let at = symtab.offset + k * 24
                symbols.append(
                    Symbol(
                        name: try r.string(in: strings, at: Int(try r.u32(at)), what: "symbol #\(k) name"),
                        info: bytes[at + 4], sectionIndex: try r.u16(at + 6), value: try r.u64(at + 8), size: try r.u64(at + 16)))
            }
        }
    }

    /// The section named `name`.
    public func section(named name: String) -> Section? { sections.first { $0.name == name } }

    /// A section's bytes (empty for `SHT_NOBITS`).
    public func data(of section: Section) -> ArraySlice<UInt8> {
        section.isNoBits ? [] : bytes[section.offset..<(section.offset + section.size)]
    }

    /// The relocations that apply to the section at `index` (from `SHT_REL` sections whose
    /// `sh_info` names it), each checked to stay inside the target and name a real symbol.
    public func relocations(for index: Int) throws(ObjectError) -> [Relocation] {
        var out: [Relocation] = []
        let r = ByteReader(bytes)
        for rel in sections where rel.type == Self.sectionRel && Int(rel.info) == index {
            guard rel.entrySize == 16 else { throw ObjectError(section: rel.name, "relocation entry size is \(rel.entrySize), expected 16") }
            for k in 0..<(rel.size / 16) {
                let at = rel.offset + k * 16
                let info = try r.u64(at + 8)
                let relocation = Relocation(offset: try r.u64(at), symbol: Int(info >> 32), type: UInt32(truncatingIfNeeded: info))
                guard relocation.symbol < symbols.count else {
                    throw ObjectError(section: rel.name, offset: at, "relocation #\(k) names symbol \(relocation.symbol), but the table has \(symbols.count)")
                }
                guard relocation.offset < UInt64(sections[index].size) else {
                    throw ObjectError(
                        section: rel.name, offset: at,
                        "relocation #\(k) patches offset 0x\(String(relocation.offset, radix: 16)), outside \(sections[index].name)")
                }
                out.append(relocation)
            }
        }
        return out
    }
}

/// Bounds-checked little-endian reads.
struct ByteReader {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    private func check(_ at: Int, _ size: Int) throws(ObjectError) {
        guard at >= 0, at <= bytes.count - size else {
            throw ObjectError(offset: at, "truncated: a \(size)-byte field at 0x\(String(at, radix: 16)) runs past the end of the file")
        }
    }

    func u16(_ at: Int) throws(ObjectError) -> UInt16 {
        try check(at, 2)
        return UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
    }

    func u32(_ at: Int) throws(ObjectError) -> UInt32 {
        try check(at, 4)
        return (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * $1) }
    }

    func u64(_ at: Int) throws(ObjectError) -> UInt64 {
        try check(at, 8)
        return (0..<8).reduce(0) { $0 | UInt64(bytes[at + $1]) << (8 * $1) }
    }

    /// A 64-bit file offset or size, which must fit in the file's address space.
    func offset(_ at: Int) throws(ObjectError) -> Int {
        let v = try u64(at)
        guard v <= UInt64(Int32.max) else { throw ObjectError(offset: at, "offset or size 0x\(String(v, radix: 16)) is implausibly large") }
        return Int(v)
    }

    /// A NUL-terminated string at `at` inside string table `table`; `what` names it in an
    /// error, and is made only then.
    func string(in table: ELFFile.Section, at: Int, what: @autoclosure () -> String) throws(ObjectError) -> String {
        guard at >= 0, at < table.size else {
            throw ObjectError(section: table.name.isEmpty ? "#\(table.index)" : table.name, "\(what()): offset \(at) is outside the string table")
        }
        let start = table.offset + at, end = table.offset + table.size
        guard let nul = bytes[start..<end].firstIndex(of: 0) else {
            throw ObjectError(section: table.name, offset: start, "\(what()): the string is not NUL-terminated")
        }
        return String(decoding: bytes[start..<nul], as: UTF8.self)
    }
}

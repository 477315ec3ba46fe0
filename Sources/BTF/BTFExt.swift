/// `.BTF.ext`: per-section function info, line info and CO-RE relocation records, as clang
/// emits them. Offsets into the string section are resolved against the object's ``BTF``.
public struct BTFExt: Sendable {
    /// A function's entry: byte offset of its first instruction and its `FUNC` type.
    public struct FunctionInfo: Sendable, Equatable {
        public var instructionOffset: UInt32
        public var typeID: UInt32

        /// The function of BTF type `typeID` starts at instruction `instructionOffset`.
        public init(instructionOffset: UInt32, typeID: UInt32) { (self.instructionOffset, self.typeID) = (instructionOffset, typeID) }
    }

    /// The C source position of the instruction at a byte offset.
    public struct LineInfo: Sendable, Equatable {
        public var instructionOffset: UInt32
        public var fileNameOffset: UInt32
        /// Offset of the source line's text.
        public var lineOffset: UInt32
        public var line: UInt32
        public var column: UInt32
    }

    /// A CO-RE relocation record (`struct bpf_core_relo`).
    public struct CORERelocation: Sendable, Equatable {
        public var instructionOffset: UInt32
        public var typeID: UInt32
        /// Offset of the access string, e.g. `0:1:2`.
        public var accessStringOffset: UInt32
        /// `enum bpf_core_relo_kind`.
        public var kind: UInt32

        package init(instructionOffset: UInt32, typeID: UInt32, accessStringOffset: UInt32, kind: UInt32) {
            self.instructionOffset = instructionOffset
            self.typeID = typeID
            self.accessStringOffset = accessStringOffset
            self.kind = kind
        }
    }

    /// Records of one kind, grouped by the name offset of the ELF section they describe.
    public typealias BySection<Record> = [(sectionNameOffset: UInt32, records: [Record])]

    public private(set) var functions: BySection<FunctionInfo> = []
    public private(set) var lines: BySection<LineInfo> = []
    public private(set) var coreRelocations: BySection<CORERelocation> = []

    /// Parses `.BTF.ext` data.
    public init(bytes: [UInt8]) throws(BTFError) {
        let r = BTF.Reader(bytes: bytes)
        guard bytes.count >= 24 else { throw BTFError(offset: 0, ".BTF.ext of \(bytes.count) bytes is shorter than its header") }
        guard try r.u16(0) == BTF.magic else { throw BTFError(offset: 0, "bad .BTF.ext magic") }
        let headerLength = Int(try r.u32(4))
        guard headerLength >= 24, headerLength <= bytes.count else { throw BTFError(offset: 4, ".BTF.ext header length \(headerLength) is invalid") }
        func part(_ at: Int) throws(BTFError) -> Range<Int>? {
            let offset = headerLength + Int(try r.u32(at)), length = Int(try r.u32(at + 4))
            guard length > 0 else { return nil }
            guard offset + length <= bytes.count else { throw BTFError(offset: at, ".BTF.ext part at \(offset)+\(length) runs past \(bytes.count) bytes") }
            return offset..<(offset + length)
        }
        if let range = try part(8) {
            functions = try Self.records(r, range, minimumSize: 8) { (at) throws(BTFError) in
                FunctionInfo(instructionOffset: try r.u32(at), typeID: try r.u32(at + 4))
            }
        }
        if let range = try part(16) {
            lines = try Self.records(r, range, minimumSize: 16) { (at) throws(BTFError) in
                let position = try r.u32(at + 12)
                return LineInfo(
                    instructionOffset: try r.u32(at), fileNameOffset: try r.u32(at + 4), lineOffset: try r.u32(at + 8),
                    line: position >> 10, column: position & 0x3ff)
            }
        }
        if headerLength >= 32, let range = try part(24) {
            coreRelocations = try Self.records(r, range, minimumSize: 16) { (at) throws(BTFError) in
                CORERelocation(instructionOffset: try r.u32(at), typeID: try r.u32(at + 4), accessStringOffset: try r.u32(at + 8), kind: try r.u32(at + 12))
            }
        }
    }

    /// One part: a record size, then blocks of (section name, count, records).
    private static func records<Record>(
        _ r: BTF.Reader, _ range: Range<Int>, minimumSize: Int,
        _ read: (Int) throws(BTFError) -> Record
    ) throws(BTFError) -> BySection<Record> {
        var out: BySection<Record> = []
        let recordSize = Int(try r.u32(range.lowerBound))
        guard recordSize >= minimumSize else { throw BTFError(offset: range.lowerBound, ".BTF.ext record size \(recordSize) is smaller than \(minimumSize)") }
        var at = range.lowerBound + 4
        while at < range.upperBound {
            guard at + 8 <= range.upperBound else { throw BTFError(offset: at, "truncated .BTF.ext section header") }
            let name = try r.u32(at), count = Int(try r.u32(at + 4))
            at += 8
            guard count <= (range.upperBound - at) / recordSize else { throw BTFError(offset: at - 4, ".BTF.ext: \(count) records do not fit in the part") }
            var records: [Record] = []
            records.reserveCapacity(count)
            for _ in 0..<count {
                records.append(try read(at))
                at += recordSize
            }
            out.append((name, records))
        }
        return out
    }
}

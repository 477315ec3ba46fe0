/// Parsed BTF: the type graph of a `.BTF` section or of the kernel's `/sys/kernel/btf/vmlinux`.
/// Type ids index ``types`` directly; id 0 is `void`.
public struct BTF: Sendable {
    /// Types by id; `types[0]` is void.
    public internal(set) var types: [BTFType]
    /// The string section.
    public let strings: [UInt8]

    /// `BTF_MAGIC`, as it reads in little-endian data.
    static let magic: UInt16 = 0xeB9F

    /// Parses raw BTF data (header, types, strings).
    /// - Throws: ``BTFError`` naming the offset and type id of anything malformed.
    public init(bytes: [UInt8]) throws(BTFError) {
        let r = Reader(bytes: bytes)
        guard bytes.count >= 24 else { throw BTFError(offset: 0, "BTF data of \(bytes.count) bytes is shorter than its header") }
        guard try r.u16(0) == Self.magic else { throw BTFError(offset: 0, "bad BTF magic (big-endian BTF is not supported)") }
        guard bytes[2] == 1 else { throw BTFError(offset: 2, "unsupported BTF version \(bytes[2])") }
        let headerLength = Int(try r.u32(4))
        let typeStart = headerLength + Int(try r.u32(8)), typeLength = Int(try r.u32(12))
        let stringStart = headerLength + Int(try r.u32(16)), stringLength = Int(try r.u32(20))
        guard headerLength >= 24, typeStart >= headerLength, typeStart + typeLength <= bytes.count,
            stringStart >= headerLength, stringStart + stringLength <= bytes.count
        else {
            throw BTFError(
                offset: 4, "BTF header sections (types \(typeStart)+\(typeLength), strings \(stringStart)+\(stringLength)) do not fit in \(bytes.count) bytes")
        }
        strings = Array(bytes[stringStart..<(stringStart + stringLength)])
        guard strings.first == 0 || strings.isEmpty else { throw BTFError(offset: stringStart, "the string section must start with an empty string") }
        types = [BTFType(nameOffset: 0, kind: .void)]
        types.reserveCapacity(typeLength / 16)
        var at = typeStart
        let end = typeStart + typeLength
        while at < end {
            let id = types.count
            let type = try Self.parseType(r, at: &at, end: end, id: id)
            guard type.nameOffset < UInt32(max(stringLength, 1)) else {
                throw BTFError(offset: at, typeID: id, "name offset \(type.nameOffset) is outside the string section")
            }
            types.append(type)
        }
    }

    /// The name at `offset` in the string section ("" for anonymous or out of range).
    public func name(_ offset: UInt32) -> String {
        let start = Int(offset)
        guard start < strings.count else { return "" }
        let end = strings[start...].firstIndex(of: 0) ?? strings.count
        return String(decoding: strings[start..<end], as: UTF8.self)
    }

    /// The name of type `id`.
    public func name(ofType id: Int) -> String { id < types.count ? name(types[id].nameOffset) : "" }

    /// The id of the first type named `name` whose kind `matches` accepts, or nil: how a
    /// program finds the kernel function or tracepoint it attaches to in vmlinux's 100,000
    /// types (names are compared in place, not made into strings).
    public func typeID(named name: String, where matches: (BTFType.Kind) -> Bool) -> Int? {
        let wanted = Array(name.utf8)
        return strings.withUnsafeBufferPointer { strings in
            types.indices.first { id in
                let start = Int(types[id].nameOffset), end = start + wanted.count
                guard end < strings.count, strings[end] == 0 else { return false }
                return wanted.indices.allSatisfy { strings[start + $0] == wanted[$0] } && matches(types[id].kind)
            }
        }
    }

    private static func parseType(_ r: Reader, at: inout Int, end: Int, id: Int) throws(BTFError) -> BTFType {
        let start = at
        guard at + 12 <= end else { throw BTFError(offset: at, typeID: id, "truncated type header") }
        let nameOffset = try r.u32(at), info = try r.u32(at + 4), sizeOrType = try r.u32(at + 8)
        at += 12
        let vlen = Int(info & 0xffff), kindValue = (info >> 24) & 0x1f, kflag = info >> 31 != 0
        func need(_ bytes: Int) throws(BTFError) {
            guard at + bytes <= end else { throw BTFError(offset: start, typeID: id, "truncated data for kind \(kindValue) (vlen \(vlen))") }
        }
        let kind: BTFType.Kind
        switch kindValue {
        case 1:
            try need(4)
            let v = try r.u32(at); at += 4
            kind = .int(size: sizeOrType, encoding: UInt8((v >> 24) & 0x0f), bitOffset: UInt8((v >> 16) & 0xff), bits: UInt8(v & 0xff))
        case 2: kind = .pointer(to: sizeOrType)
        case 3:
            try need(12)
            kind = .array(element: try r.u32(at), index: try r.u32(at + 4), count: try r.u32(at + 8)); at += 12
        case 4, 5:
            try need(12 * vlen)
            var members: [BTFType.Member] = []
            members.reserveCapacity(vlen)
            for _ in 0..<vlen {
                let offset = try r.u32(at + 8)
                members.append(
                    BTFType.Member(
                        nameOffset: try r.u32(at), type: try r.u32(at + 4),
                        bitOffset: kflag ? offset & 0xff_ffff : offset, bitfieldSize: kflag ? offset >> 24 : 0))
                at += 12
            }
            kind = kindValue == 4 ? .structure(size: sizeOrType, members: members) : .union(size: sizeOrType, members: members)
        case 6:
            try need(8 * vlen)
            var values: [BTFType.Enumerator] = []
            values.reserveCapacity(vlen)
            for _ in 0..<vlen {
                let raw = Int32(bitPattern: try r.u32(at + 4))
                values.append(BTFType.Enumerator(nameOffset: try r.u32(at), value: kflag ? UInt64(bitPattern: Int64(raw)) : UInt64(UInt32(bitPattern: raw))))
                at += 8
            }
            kind = .enumeration(size: sizeOrType, signed: kflag, values: values)
        case 7: kind = .forward(isUnion: kflag)
        case 8: kind = .typedef(sizeOrType)
        case 9: kind = .volatile(sizeOrType)
        case 10: kind = .const(sizeOrType)
        case 11: kind = .restrict(sizeOrType)
        case 12: kind = .function(prototype: sizeOrType, linkage: UInt16(vlen))
        case 13:
            try need(8 * vlen)
            var parameters: [BTFType.Parameter] = []
            parameters.reserveCapacity(vlen)
            for _ in 0..<vlen {
                parameters.append(BTFType.Parameter(nameOffset: try r.u32(at), type: try r.u32(at + 4)))
                at += 8
            }
            kind = .functionPrototype(returns: sizeOrType, parameters: parameters)
        case 14:
            try need(4)
            kind = .variable(type: sizeOrType, linkage: try r.u32(at)); at += 4
        case 15:
            try need(12 * vlen)
            var variables: [BTFType.VariablePlacement] = []
            variables.reserveCapacity(vlen)
            for _ in 0..<vlen {
                variables.append(BTFType.VariablePlacement(type: try r.u32(at), offset: try r.u32(at + 4), size: try r.u32(at + 8)))
                at += 12
            }
            kind = .dataSection(size: sizeOrType, variables: variables)
        case 16: kind = .float(size: sizeOrType)
        case 17:
            try need(4)
            kind = .declTag(type: sizeOrType, componentIndex: Int32(bitPattern: try r.u32(at))); at += 4
        case 18: kind = .typeTag(sizeOrType)
        case 19:
            try need(12 * vlen)
            var values: [BTFType.Enumerator] = []
            values.reserveCapacity(vlen)
            for _ in 0..<vlen {
                values.append(BTFType.Enumerator(nameOffset: try r.u32(at), value: UInt64(try r.u32(at + 4)) | UInt64(try r.u32(at + 8)) << 32))
                at += 12
            }
            kind = .enumeration64(size: sizeOrType, signed: kflag, values: values)
        default:
            throw BTFError(offset: start, typeID: id, "unknown BTF kind \(kindValue)")
        }
        return BTFType(nameOffset: nameOffset, kind: kind, isAttributeTag: kflag && (kindValue == 17 || kindValue == 18))
    }

    /// Bounds-checked little-endian reads over the BTF blob.
    struct Reader {
        let bytes: [UInt8]

        @inline(__always) func u16(_ at: Int) throws(BTFError) -> UInt16 {
            guard at >= 0, at + 2 <= bytes.count else { throw BTFError(offset: at, "truncated BTF data") }
            return UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
        }

        @inline(__always) func u32(_ at: Int) throws(BTFError) -> UInt32 {
            guard at >= 0, at + 4 <= bytes.count else { throw BTFError(offset: at, "truncated BTF data") }
            return UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
        }
    }
}

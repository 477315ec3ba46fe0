extension BTF {
    /// The BTF as raw little-endian data (header, types, strings): what `BPF_BTF_LOAD` takes.
    /// Parsing the result gives back the same types.
    public func encoded() -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(types.count * 24)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { body += $0 } }
        func header(_ t: BTFType, kind: UInt32, vlen: Int = 0, kflag: Bool = false, _ sizeOrType: UInt32) {
            u32(t.nameOffset)
            u32(UInt32(vlen & 0xffff) | kind << 24 | (kflag ? 1 << 31 : 0))
            u32(sizeOrType)
        }
        for t in types.dropFirst() {
            switch t.kind {
            case .void: header(t, kind: 0, 0)
            case let .int(size, encoding, bitOffset, bits):
                header(t, kind: 1, size)
                u32(UInt32(encoding) << 24 | UInt32(bitOffset) << 16 | UInt32(bits))
            case let .pointer(to): header(t, kind: 2, to)
            case let .array(element, index, count):
                header(t, kind: 3, 0)
                u32(element); u32(index); u32(count)
            case let .structure(size, members), let .union(size, members):
                let isStruct = if case .structure = t.kind { true } else { false }
                let bitfields = members.contains { $0.bitfieldSize != 0 }
                header(t, kind: isStruct ? 4 : 5, vlen: members.count, kflag: bitfields, size)
                for m in members {
                    u32(m.nameOffset); u32(m.type)
                    u32(bitfields ? m.bitfieldSize << 24 | m.bitOffset : m.bitOffset)
                }
            case let .enumeration(size, signed, values):
                header(t, kind: 6, vlen: values.count, kflag: signed, size)
                for v in values { u32(v.nameOffset); u32(UInt32(truncatingIfNeeded: v.value)) }
            case let .forward(isUnion): header(t, kind: 7, kflag: isUnion, 0)
            case let .typedef(to): header(t, kind: 8, to)
            case let .volatile(to): header(t, kind: 9, to)
            case let .const(to): header(t, kind: 10, to)
            case let .restrict(to): header(t, kind: 11, to)
            case let .function(prototype, linkage): header(t, kind: 12, vlen: Int(linkage), prototype)
            case let .functionPrototype(returns, parameters):
                header(t, kind: 13, vlen: parameters.count, returns)
                for p in parameters { u32(p.nameOffset); u32(p.type) }
            case let .variable(type, linkage):
                header(t, kind: 14, type)
                u32(linkage)
            case let .dataSection(size, variables):
                header(t, kind: 15, vlen: variables.count, size)
                for v in variables { u32(v.type); u32(v.offset); u32(v.size) }
            case let .float(size): header(t, kind: 16, size)
            case let .declTag(type, componentIndex):
                header(t, kind: 17, kflag: t.isAttributeTag, type)
                u32(UInt32(bitPattern: componentIndex))
            case let .typeTag(to): header(t, kind: 18, kflag: t.isAttributeTag, to)
            case let .enumeration64(size, signed, values):
                header(t, kind: 19, vlen: values.count, kflag: signed, size)
                for v in values { u32(v.nameOffset); u32(UInt32(truncatingIfNeeded: v.value)); u32(UInt32(truncatingIfNeeded: v.value >> 32)) }
            }
        }
        var out: [UInt8] = [0x9f, 0xeb, 1, 0]
        func append(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        append(24)  // header length
        append(0); append(UInt32(body.count))  // types
        append(UInt32(body.count)); append(UInt32(strings.count))  // strings
        out.reserveCapacity(24 + body.count + strings.count)
        return out + body + strings
    }

    /// Replaces type `id` (1 or above), as loaders do to fix up an object's BTF before the
    /// kernel sees it.
    public mutating func replaceType(_ id: Int, with type: BTFType) {
        precondition(id > 0 && id < types.count, "type id \(id) is not in this BTF")
        types[id] = type
    }
}

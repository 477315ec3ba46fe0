extension BTF {
    /// `bytes` read as a value of type `id`, as JSON the way bpftool formats map entries through
    /// BTF (`bpftool -j map dump`, its "formatted" part): integers in decimal, bitfields as hex
    /// strings, NUL-terminated printable `char` arrays as strings, enums by enumerator name (else signed),
    /// pointers as unsigned numbers, anonymous members under "", data sections as a list of
    /// `{variable: value}`. Bytes the type runs past read as `null`.
    public func json(_ bytes: [UInt8], type id: UInt32) -> String {
        var out = ""
        ValueWriter(btf: self, bytes: bytes).write(id, at: 0, into: &out, depth: 0)
        return out
    }
}

/// Walks a value's bytes along its type, writing JSON.
private struct ValueWriter {
    let btf: BTF
    let bytes: [UInt8]

    /// Little-endian unsigned load of `size` (1…8) bytes, nil past the end.
    func load(_ at: Int, _ size: Int) -> UInt64? {
        guard at >= 0, size > 0, size <= 8, at + size <= bytes.count else { return nil }
        var v: UInt64 = 0
        for i in 0..<size { v |= UInt64(bytes[at + i]) << (8 * i) }
        return v
    }

    /// `bits` bits starting `bitOffset` bits into the byte at `at`.
    func loadBits(_ at: Int, bitOffset: Int, bits: Int) -> UInt64? {
        let first = at + bitOffset / 8, shift = bitOffset % 8
        let span = (shift + bits + 7) / 8
        guard bits > 0, bits <= 64, span <= 9, first >= 0, first + span <= bytes.count else { return nil }
        var v: UInt64 = 0
        for i in 0..<min(span, 8) { v |= UInt64(bytes[first + i]) << (8 * i) }
        v >>= UInt64(shift)
        if span == 9 { v |= UInt64(bytes[first + 8]) << UInt64(64 - shift) }
        return bits == 64 ? v : v & ((1 << UInt64(bits)) - 1)
    }

    static func signed(_ v: UInt64, size: Int) -> Int64 {
        let shift = UInt64(64 - 8 * size)
        return Int64(bitPattern: v << shift) >> Int64(shift)
    }

    func write(_ id: UInt32, at: Int, into out: inout String, depth: Int) {
        guard depth < 64, let type = btf.type(id) else { out += "null"; return }
        switch type.kind {
        case let .int(size, encoding, bitOffset, bits):
            if bitOffset != 0 || Int(bits) != Int(size) * 8 {
                out += loadBits(at, bitOffset: Int(bitOffset), bits: Int(bits)).map { "\"0x\(String($0, radix: 16))\"" } ?? "null"
                return
            }
            if size == 16 {
                guard let low = load(at, 8), let high = load(at + 8, 8) else { out += "null"; return }
                let lowHex = String(low, radix: 16)
                out += high == 0 ? "\"0x\(lowHex)\"" : "\"0x\(String(high, radix: 16))\(String(repeating: "0", count: 16 - lowHex.count))\(lowHex)\""
                return
            }
            guard let v = load(at, Int(size)) else { out += "null"; return }
            switch encoding {
            case 1: out += String(Self.signed(v, size: Int(size)))
            case 2:
                let c = UInt8(truncatingIfNeeded: v)
                out += c >= 0x20 && c < 0x7f ? jsonQuoted(String(UnicodeScalar(c))) : "\"\\u00\(c < 16 ? "0" : "")\(String(c, radix: 16))\""
            case 4: out += v != 0 ? "true" : "false"
            default: out += String(v)
            }
        case .pointer:
            out += load(at, 8).map { String($0) } ?? "null"
        case let .enumeration(size, _, values), let .enumeration64(size, _, values):
            guard let v = load(at, Int(size)) else { out += "null"; return }
            let mask: UInt64 = size >= 8 ? ~0 : (1 << (8 * UInt64(size))) - 1
            if let match = values.first(where: { $0.value & mask == v }) {
                out += jsonQuoted(btf.name(match.nameOffset))
            } else {
                out += String(Self.signed(v, size: Int(size)))  // bpftool: signed, whatever the enum's sign
            }
        case let .structure(_, members), let .union(_, members):
            out += "{"
            for (i, member) in members.enumerated() {
                if i > 0 { out += "," }
                out += jsonQuoted(btf.name(member.nameOffset)) + ":"
                if member.bitfieldSize != 0 {
                    out += loadBits(at, bitOffset: Int(member.bitOffset), bits: Int(member.bitfieldSize)).map { "\"0x\(String($0, radix: 16))\"" } ?? "null"
                } else {
                    write(member.type, at: at + Int(member.bitOffset / 8), into: &out, depth: depth + 1)
                }
            }
            out += "}"
        case let .array(element, _, count):
            if let text = string(element: element, count: Int(count), at: at) {
                out += jsonQuoted(text)
                return
            }
            guard let size = btf.size(of: element), size > 0 else { out += "null"; return }
            out += "["
            for i in 0..<Int(min(count, UInt32(max(0, bytes.count - at) / size + 1))) {
                if i > 0 { out += "," }
                write(element, at: at + i * size, into: &out, depth: depth + 1)
            }
            out += "]"
        case let .typedef(target), let .volatile(target), let .const(target), let .restrict(target), let .typeTag(target):
            write(target, at: at, into: &out, depth: depth + 1)
        case let .variable(target, _):
            out += "{" + jsonQuoted(btf.name(type.nameOffset)) + ":"
            write(target, at: at, into: &out, depth: depth + 1)
            out += "}"
        case let .dataSection(_, variables):
            out += "{" + jsonQuoted(btf.name(type.nameOffset)) + ":["
            for (i, variable) in variables.enumerated() {
                if i > 0 { out += "," }
                write(variable.type, at: at + Int(variable.offset), into: &out, depth: depth + 1)
            }
            out += "]}"
        case let .float(size):
            switch size {
            case 4: out += load(at, 4).map { "\(Float(bitPattern: UInt32($0)))" } ?? "null"
            case 8: out += load(at, 8).map { "\(Double(bitPattern: $0))" } ?? "null"
            default: out += "null"
            }
        default:
            out += "null"
        }
    }

    /// The text of a `char` array (through qualifiers, not typedefs) that is printable up to a
    /// NUL inside it; nil when it is not such a string.
    func string(element: UInt32, count: Int, at: Int) -> String? {
        var id = element
        while let kind = btf.type(id)?.kind {
            switch kind {
            case let .volatile(t), let .const(t), let .restrict(t), let .typeTag(t): id = t
            default:
                guard case let .int(size, encoding, _, _) = kind, size == 1,
                    encoding == 2 || btf.name(ofType: Int(id)) == "char", count > 0
                else { return nil }
                var text = ""
                for i in 0..<count {
                    guard at + i < bytes.count else { return nil }
                    let c = bytes[at + i]
                    if c == 0 { return text }
                    guard c >= 0x20, c < 0x7f else { return nil }
                    text.unicodeScalars.append(UnicodeScalar(c))
                }
                return nil
            }
        }
        return nil
    }
}

/// `s` as a JSON string.
package func jsonQuoted(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

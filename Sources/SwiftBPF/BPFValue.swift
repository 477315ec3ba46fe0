public import BPFObject
/// A value with a fixed C layout, read from and written to the bytes a map holds: integers,
/// floating point, and the structs `swiftbpf gen skeleton` generates from an object's BTF.
public protocol BPFValue {
    /// The value's size in bytes, as BTF gives it.
    static var byteCount: Int { get }
    /// The value held by the first ``byteCount`` bytes of `bytes` (little-endian, unaligned).
    init(bpfBytes bytes: ArraySlice<UInt8>)
    /// The value's bytes, ``byteCount`` of them.
    var bpfBytes: [UInt8] { get }
}

extension BPFValue {
    /// The value held by `bytes`.
    public init(bpfBytes bytes: [UInt8]) { self.init(bpfBytes: bytes[...]) }
}

extension FixedWidthInteger where Self: BPFValue {
    public static var byteCount: Int { MemoryLayout<Self>.size }
    public init(bpfBytes bytes: ArraySlice<UInt8>) {
        var value: Self = 0
        for (i, byte) in bytes.prefix(MemoryLayout<Self>.size).enumerated() { value |= Self(truncatingIfNeeded: byte) << (8 * i) }
        self = value
    }
    public var bpfBytes: [UInt8] { (0..<MemoryLayout<Self>.size).map { UInt8(truncatingIfNeeded: self >> (8 * $0)) } }
}

extension UInt8: BPFValue {}
extension UInt16: BPFValue {}
extension UInt32: BPFValue {}
extension UInt64: BPFValue {}
extension Int8: BPFValue {}
extension Int16: BPFValue {}
extension Int32: BPFValue {}
extension Int64: BPFValue {}

extension Bool: BPFValue {
    public static var byteCount: Int { 1 }
    public init(bpfBytes bytes: ArraySlice<UInt8>) { self = (bytes.first ?? 0) != 0 }
    public var bpfBytes: [UInt8] { [self ? 1 : 0] }
}

extension Float: BPFValue {
    public static var byteCount: Int { 4 }
    public init(bpfBytes bytes: ArraySlice<UInt8>) { self = Float(bitPattern: UInt32(bpfBytes: bytes)) }
    public var bpfBytes: [UInt8] { bitPattern.bpfBytes }
}

extension Double: BPFValue {
    public static var byteCount: Int { 8 }
    public init(bpfBytes bytes: ArraySlice<UInt8>) { self = Double(bitPattern: UInt64(bpfBytes: bytes)) }
    public var bpfBytes: [UInt8] { bitPattern.bpfBytes }
}

/// Reading and writing fields in a value's bytes, for generated code.
public enum BPFLayout {
    /// The `T` at byte `offset` of `bytes`.
    public static func read<T: BPFValue>(_ bytes: [UInt8], at offset: Int, as _: T.Type = T.self) -> T {
        T(bpfBytes: bytes[offset..<offset + T.byteCount])
    }

    /// Stores `value` at byte `offset` of `bytes`.
    public static func write<T: BPFValue>(_ value: T, into bytes: inout [UInt8], at offset: Int) {
        bytes.replaceSubrange(offset..<offset + T.byteCount, with: value.bpfBytes)
    }

    /// `count` elements of `T`, `stride` bytes apart, from byte `offset`.
    public static func readArray<T: BPFValue>(_ bytes: [UInt8], at offset: Int, count: Int, stride: Int, as _: T.Type = T.self) -> [T] {
        (0..<count).map { read(bytes, at: offset + $0 * stride) }
    }

    /// Stores `values` (at most `count` of them) `stride` bytes apart from byte `offset`.
    public static func writeArray<T: BPFValue>(_ values: [T], into bytes: inout [UInt8], at offset: Int, count: Int, stride: Int) {
        for (i, value) in values.prefix(count).enumerated() { write(value, into: &bytes, at: offset + i * stride) }
    }

    /// The unsigned value of `size` bits from bit `offset` (a bitfield; little-endian).
    public static func readBits(_ bytes: [UInt8], bitOffset offset: Int, size: Int) -> UInt64 {
        var value: UInt64 = 0
        for bit in 0..<size where bytes[(offset + bit) / 8] >> UInt8((offset + bit) % 8) & 1 != 0 { value |= 1 << UInt64(bit) }
        return value
    }

    /// Stores the low `size` bits of `value` at bit `offset`.
    public static func writeBits(_ value: UInt64, into bytes: inout [UInt8], bitOffset offset: Int, size: Int) {
        for bit in 0..<size {
            let index = (offset + bit) / 8, mask = UInt8(1) << UInt8((offset + bit) % 8)
            bytes[index] = value >> UInt64(bit) & 1 != 0 ? bytes[index] | mask : bytes[index] & ~mask
        }
    }

    /// A C string (up to its first NUL) from a `char` array.
    public static func string(_ bytes: [UInt8], at offset: Int, count: Int) -> String {
        String(decoding: bytes[offset..<offset + count].prefix { $0 != 0 }, as: UTF8.self)
    }

    /// The bytes of base64 `text` (how a skeleton embeds its object).
    public static func base64(_ text: String) -> [UInt8] {
        var table = [UInt8](repeating: 255, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() { table[Int(c)] = UInt8(i) }
        var out: [UInt8] = [], buffer: UInt32 = 0, bits = 0
        out.reserveCapacity(text.utf8.count * 3 / 4)
        for c in text.utf8 where table[Int(c)] != 255 {
            buffer = buffer << 6 | UInt32(table[Int(c)])
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return out
    }
}

extension BPFLayout {
    /// Each generated type (BTF id, Swift name, size, and its fields' C names and bit offsets)
    /// set against `object`'s BTF: a line for each difference.
    public static func mismatches(in object: ObjectFile, _ types: [(UInt32, String, Int, [(String, Int)])]) -> [String] {
        guard let btf = try? object.loadableBTF(skippingAbsentSections: true) else { return ["the object has no BTF its data sections can be placed in"] }
        var found: [String] = []
        for (id, name, size, fields) in types {
            guard let type = btf.type(id) else {
                found.append("\(name): BTF has no type \(id)")
                continue
            }
            if btf.size(of: id) != size { found.append("\(name): \(size) bytes, BTF's \(btf.size(of: id).map(String.init) ?? "none")") }
            let actual: [(String, Int)]
            switch type.kind {
            case let .structure(_, members), let .union(_, members): actual = members.map { (btf.name($0.nameOffset), Int($0.bitOffset)) }
            case let .dataSection(_, variables):
                actual = variables.compactMap { v in btf.type(v.type).map { (btf.name($0.nameOffset), Int(v.offset) * 8) } }
            default: actual = []
            }
            if actual.map(\.0) != fields.map(\.0) || actual.map(\.1) != fields.map(\.1) {
                found.append("\(name): fields \(fields), BTF's \(actual)")
            }
        }
        return found
    }
}

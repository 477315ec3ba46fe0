/// Lowercase hexadecimal text, built byte by byte: no `String(_:radix:)` per digit pair, which
/// matters on the tool's cold start (each program's tag is printed this way).
private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

/// `bytes` as two hex digits each, `separator` between them: `hexString([0xca, 0xfe])` is
/// `"cafe"`.
package func hexString(_ bytes: some Sequence<UInt8>, separator: String = "") -> String {
    var text: [UInt8] = []
    text.reserveCapacity(bytes.underestimatedCount * (2 + separator.utf8.count))
    for byte in bytes {
        if !text.isEmpty { text.append(contentsOf: separator.utf8) }
        text.append(hexDigits[Int(byte >> 4)])
        text.append(hexDigits[Int(byte & 0x0f)])
    }
    return String(decoding: text, as: UTF8.self)
}

/// `value` in hex digits, zero-padded on the left to at least `width`.
package func hexString(_ value: some BinaryInteger, width: Int) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}

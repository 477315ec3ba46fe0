/// Lowercase hexadecimal text, built byte by byte. Inlinable, so that each caller gets a copy
/// specialized to its collection: the unspecialized generic form costs the tool's cold start a
/// runtime lookup of the collection's associated types.

/// `bytes` as two hex digits each, `separator` between them: `hexString([0xca, 0xfe])` is
/// `"cafe"`.
@inlinable package func hexString(_ bytes: some Sequence<UInt8>, separator: String = "") -> String {
    var text: [UInt8] = []
    text.reserveCapacity(bytes.underestimatedCount * (2 + separator.utf8.count))
    for byte in bytes {
        if !text.isEmpty { text.append(contentsOf: separator.utf8) }
        text.append(hexDigit(byte >> 4))
        text.append(hexDigit(byte & 0x0f))
    }
    return String(decoding: text, as: UTF8.self)
}

/// The lowercase hex digit of `value` (0–15).
@inlinable package func hexDigit(_ value: UInt8) -> UInt8 {
    value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
}

/// `value` in hex digits, zero-padded on the left to at least `width`.
package func hexString(_ value: some BinaryInteger, width: Int) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}

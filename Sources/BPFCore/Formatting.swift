/// Fixed-decimal and column formatting for tables: no Foundation.
package func format2(_ v: Double) -> String {
    let scaled = Int((v * 100).rounded())
    return "\(scaled / 100)." + String(scaled % 100).leftPadded(to: 2)
}

package func format1(_ v: Double) -> String {
    let scaled = (v * 10).rounded()
    return "\(Int(scaled) / 10).\(abs(Int(scaled)) % 10)"
}

package func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }

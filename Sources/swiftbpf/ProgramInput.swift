import BPFPlatform
import BPFConformance
import BPFCore

/// Reads a program from a file in any of the forms `run` and `asm` accept: a conformance test
/// file (`-- asm` / `-- raw` sections), plain assembly text, or raw little-endian instruction bytes.
struct ProgramInput {
    var instructions: [Instruction]
    /// Input memory from a conformance file's `-- mem` section.
    var memory: [UInt8] = []

    init(path: String) throws {
        guard let bytes = readFile(path) else { throw CLIError("\(path): cannot read the file") }
        if bytes.starts(with: [0x7f, 0x45, 0x4c, 0x46]) {
            throw CLIError("\(path): is an ELF object, already assembled: `disasm` prints its programs and `run` runs them")
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let looksTextual = !bytes.isEmpty && bytes.allSatisfy { $0 == 9 || $0 == 10 || $0 == 13 || (32..<127).contains($0) }
        if looksTextual, text.contains("-- asm") || text.contains("-- raw") {
            do {
                let file = try ConformanceFile(text: text)
                instructions = file.instructions
                memory = file.memory
            } catch { throw CLIError("\(path):\(error.line): \(error.message)") }
        } else if looksTextual {
            do { instructions = try Assembler.assemble(text) } catch {
                throw CLIError("\(path):\(error.line): \(error.message): \(error.source)")
            }
        } else {
            do { instructions = try Instruction.decode(bytes) } catch { throw CLIError("\(path): \(error)") }
        }
        if instructions.isEmpty { throw CLIError("\(path): no instructions") }
    }
}

/// Parses hex bytes such as `"de ad be ef"` or `"deadbeef"`.
func parseHexBytes(_ text: String) throws -> [UInt8] {
    let digits = text.filter { !$0.isWhitespace && $0 != ":" }
    guard digits.count % 2 == 0 else { throw CLIError("hex input has an odd number of digits") }
    var out: [UInt8] = []
    var i = digits.startIndex
    while i < digits.endIndex {
        let j = digits.index(i, offsetBy: 2)
        guard let b = UInt8(digits[i..<j], radix: 16) else { throw CLIError("invalid hex byte '\(digits[i..<j])'") }
        out.append(b)
        i = j
    }
    return out
}

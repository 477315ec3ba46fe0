public import BPFCore

/// One BPF conformance test vector: a program (`-- asm` text or `-- raw` words), the input
/// memory (`-- mem`), and the expected result (`-- result`) or error (`-- error`).
public struct ConformanceFile: Sendable {
    /// The program.
    public var instructions: [Instruction]
    /// Input memory, passed to the program in r1 (address) and r2 (length).
    public var memory: [UInt8]
    /// Expected r0, when the test expects the program to run.
    public var expectedResult: UInt64?
    /// Expected error text, when the test expects the program to be rejected.
    public var expectedError: String?

    /// Parses a conformance file.
    /// - Throws: ``ConformanceError`` naming the line of an unknown section, an assembly error,
    ///   malformed hex, or a file with no program.
    public init(text: String) throws(ConformanceError) {
        var sections: [(name: String, firstLine: Int, lines: [String])] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.hasPrefix("-- ") {
                sections.append((String(line.dropFirst(3)).trimmingSpaces(), n + 2, []))
            } else if line.hasPrefix("#"), sections.last?.name != "asm" && sections.last?.name != "c" {
                continue  // header comment
            } else if !sections.isEmpty {
                sections[sections.count - 1].lines.append(String(line))
            }
        }
        var asm: (Int, String)?, raw: [UInt64]?, memory: [UInt8] = [], result: UInt64?, error: String?
        for section in sections {
            switch section.name {
            case "asm": asm = (section.firstLine, section.lines.joined(separator: "\n"))
            case "raw": raw = try Self.words(section.lines, firstLine: section.firstLine)
            case "mem": memory = try Self.bytes(section.lines, firstLine: section.firstLine)
            case "result":
                let text = section.lines.map { $0.trimmingSpaces() }.filter { !$0.isEmpty }.joined()
                guard let value = Self.hexValue(text) else {
                    throw ConformanceError(line: section.firstLine, message: "invalid result '\(text)'")
                }
                result = value
            case "error": error = section.lines.map { $0.trimmingSpaces() }.filter { !$0.isEmpty }.joined(separator: " ")
            case "c", "no register offset": break  // source for reference; a harness hint
            default: throw ConformanceError(line: section.firstLine - 1, message: "unknown directive '-- \(section.name)'")
            }
        }
        if let raw {
            instructions = raw.map(Instruction.init(word:))
        } else if let (firstLine, text) = asm {
            do { instructions = try Assembler.assemble(text) } catch {
                throw ConformanceError(line: firstLine + error.line - 1, message: "\(error.message): \(error.source.trimmingSpaces())")
            }
        } else {
            throw ConformanceError(line: 1, message: "no program: the file has neither an '-- asm' nor a '-- raw' section")
        }
        guard result != nil || error != nil else { throw ConformanceError(line: 1, message: "no '-- result' or '-- error' section") }
        self.memory = memory
        self.expectedResult = result
        self.expectedError = error
    }

    static func hexValue(_ s: String) -> UInt64? {
        s.lowercased().hasPrefix("0x") ? UInt64(s.dropFirst(2), radix: 16) : UInt64(s)
    }

    /// `-- raw`: one 64-bit word a line (`0x...`), or eight hex bytes a line.
    static func words(_ lines: [String], firstLine: Int) throws(ConformanceError) -> [UInt64] {
        var out: [UInt64] = []
        for (i, line) in lines.enumerated() {
            let text = line.trimmingSpaces()
            if text.isEmpty { continue }
            if text.lowercased().hasPrefix("0x"), let w = UInt64(text.dropFirst(2), radix: 16) {
                out.append(w)
            } else {
                let bytes = try Self.bytes([text], firstLine: firstLine + i)
                guard bytes.count == 8 else { throw ConformanceError(line: firstLine + i, message: "a raw instruction needs 8 bytes, got \(bytes.count)") }
                out.append(Instruction(bytes: bytes).word)
            }
        }
        return out
    }

    /// Hex bytes separated by white space.
    static func bytes(_ lines: [String], firstLine: Int) throws(ConformanceError) -> [UInt8] {
        var out: [UInt8] = []
        for (i, line) in lines.enumerated() {
            for token in line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }) {
                guard token.count == 2, let b = UInt8(token, radix: 16) else {
                    throw ConformanceError(line: firstLine + i, message: "invalid hex byte '\(token)'")
                }
                out.append(b)
            }
        }
        return out
    }
}

/// A malformed conformance file, with the 1-based line.
public struct ConformanceError: Error, Sendable, CustomStringConvertible {
    public var line: Int
    public var message: String
    public var description: String { "line \(line): \(message)" }
}

extension String {
    func trimmingSpaces() -> String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let end = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[start...end])
    }
}

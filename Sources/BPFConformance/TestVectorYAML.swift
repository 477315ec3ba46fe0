/// A YAML value as the verifier test vectors use them: a scalar, a sequence or a mapping.
///
/// ``TestVectorYAML`` reads the part of YAML those files are written in — `---` documents,
/// block mappings and sequences, flow sequences of scalars, plain, single- and double-quoted
/// scalars, literal block scalars (`|`, `|-`, `|+`) and comments — and refuses anything else
/// with the line it is on, rather than guess. (A full YAML library would bring Foundation
/// into the command-line tool, and with it milliseconds of start-up.)
package enum YAMLNode: Equatable, Sendable {
    case scalar(String)
    case sequence([YAMLNode])
    case mapping([Entry])

    package struct Entry: Equatable, Sendable {
        package var key: String
        package var value: YAMLNode
        package init(key: String, value: YAMLNode) { (self.key, self.value) = (key, value) }
    }

    package var string: String? {
        if case let .scalar(text) = self { text } else { nil }
    }

    package var sequence: [YAMLNode]? {
        if case let .sequence(items) = self { items } else { nil }
    }

    package var mapping: [Entry]? {
        if case let .mapping(entries) = self { entries } else { nil }
    }

    /// The value of `key` in a mapping.
    package subscript(key: String) -> YAMLNode? {
        mapping?.first { $0.key == key }?.value
    }
}

/// Why a test vector file is not YAML this reader takes: the line (from 1) and the reason.
package struct YAMLError: Error, Equatable, CustomStringConvertible {
    package var line: Int
    package var message: String
    package init(line: Int, message: String) { (self.line, self.message) = (line, message) }
    package var description: String { "line \(line): \(message)" }
}

/// Reads the documents of a test vector file; see ``YAMLNode``.
package struct TestVectorYAML {
    private struct Line {
        var number: Int
        var indent: Int
        var text: Substring  // without the indentation
        var isBlankOrComment: Bool { text.isEmpty || text.hasPrefix("#") }
    }

    private var lines: [Line]
    private var index = 0

    /// Every document of `text`, in order; empty documents are left out.
    package static func documents(_ text: String) throws(YAMLError) -> [YAMLNode] {
        var documents: [[Line]] = [[]]
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line == "---" || line.hasPrefix("--- ") {
                documents.append([])
                continue
            }
            if line.hasPrefix("\t") { throw YAMLError(line: offset + 1, message: "indented with a tab") }
            let indent = line.prefix { $0 == " " }.count
            documents[documents.count - 1].append(Line(number: offset + 1, indent: indent, text: trimmingTrailingSpaces(line.dropFirst(indent))))
        }
        var nodes: [YAMLNode] = []
        for lines in documents where lines.contains(where: { !$0.isBlankOrComment }) {
            var reader = TestVectorYAML(lines: lines)
            let node = try reader.block(deeperThan: -1)
            if let extra = reader.nextContent() { throw YAMLError(line: extra.number, message: "unexpected indentation") }
            nodes.append(node)
        }
        return nodes
    }

    /// The next line that is neither blank nor a comment, without moving past it.
    private mutating func nextContent() -> Line? {
        while index < lines.count, lines[index].isBlankOrComment { index += 1 }
        return index < lines.count ? lines[index] : nil
    }

    /// A mapping, a sequence or a scalar starting at the next content line, indented more than `parent`.
    private mutating func block(deeperThan parent: Int) throws(YAMLError) -> YAMLNode {
        guard let first = nextContent(), first.indent > parent else { return .scalar("") }
        if isSequenceItem(first.text) { return try sequence(at: first.indent) }
        if keyAndRest(first.text) != nil { return try mapping(at: first.indent) }
        index += 1
        return try scalar(first.text, line: first.number)
    }

    private mutating func mapping(at indent: Int) throws(YAMLError) -> YAMLNode {
        var entries: [YAMLNode.Entry] = []
        while let line = nextContent(), line.indent == indent, !isSequenceItem(line.text) {
            guard let (key, rest) = keyAndRest(line.text) else { throw YAMLError(line: line.number, message: "expected 'key: value'") }
            index += 1
            entries.append(YAMLNode.Entry(key: key, value: try value(rest, line: line, indent: indent)))
        }
        return .mapping(entries)
    }

    private mutating func sequence(at indent: Int) throws(YAMLError) -> YAMLNode {
        var items: [YAMLNode] = []
        while let line = nextContent(), line.indent == indent, isSequenceItem(line.text) {
            let item = line.text.dropFirst().drop { $0 == " " }
            let itemIndent = indent + (line.text.count - item.count)
            if item.isEmpty {
                index += 1
                items.append(try block(deeperThan: indent))
            } else if keyAndRest(item) != nil {
                // `- key: value`: a mapping whose first entry shares the dash's line.
                lines[index] = Line(number: line.number, indent: itemIndent, text: item)
                items.append(try mapping(at: itemIndent))
            } else {
                index += 1
                items.append(try value(item, line: line, indent: indent))
            }
        }
        return .sequence(items)
    }

    /// The value after `key:` (or `-`): inline, a literal block, or a block on the lines below.
    private mutating func value(_ rest: Substring, line: Line, indent: Int) throws(YAMLError) -> YAMLNode {
        if rest.isEmpty || rest.hasPrefix("#") {
            if let next = nextContent(), next.indent == indent, isSequenceItem(next.text) { return try sequence(at: indent) }
            return try block(deeperThan: indent)
        }
        if rest == "|" || rest == "|-" || rest == "|+" { return literal(chomping: rest.dropFirst(), parent: indent) }
        if rest.hasPrefix("[") { return try flowSequence(rest, line: line) }
        return try scalar(rest, line: line.number)
    }

    /// A literal block scalar: the lines indented more than `parent`, as they are.
    private mutating func literal(chomping: Substring, parent: Int) -> YAMLNode {
        // The block's indentation is its first line's; a line indented less ends it.
        let blockIndent = lines[index...].first { !$0.text.isEmpty }.map { max($0.indent, parent + 1) } ?? parent + 1
        var body: [Line] = []
        while index < lines.count, lines[index].text.isEmpty || lines[index].indent >= blockIndent {
            body.append(lines[index])
            index += 1
        }
        var text = body.map { $0.text.isEmpty ? "" : String(repeating: " ", count: $0.indent - blockIndent) + $0.text }
        let trailing = text.reversed().prefix { $0.isEmpty }.count
        if chomping != "+" { text.removeLast(trailing) }
        if text.isEmpty { return .scalar("") }
        return .scalar(text.joined(separator: "\n") + (chomping == "-" ? "" : "\n"))
    }

    /// `[a, "b", …]`, over as many lines as it takes.
    private mutating func flowSequence(_ start: Substring, line: Line) throws(YAMLError) -> YAMLNode {
        var text = String(start)
        while !flowIsClosed(text) {
            guard index < lines.count else { throw YAMLError(line: line.number, message: "'[' without its ']'") }
            text += " " + lines[index].text
            index += 1
        }
        var items: [YAMLNode] = []
        var rest = Substring(text).dropFirst().drop { $0 == " " }
        while !rest.hasPrefix("]") {
            let item: Substring
            if rest.hasPrefix("\"") || rest.hasPrefix("'") {
                let end = try quotedEnd(rest, line: line.number)
                item = rest[..<end]
                rest = rest[end...]
            } else {
                item = trimmingTrailingSpaces(rest.prefix { $0 != "," && $0 != "]" })
                rest = rest.drop { $0 != "," && $0 != "]" }
            }
            items.append(try scalar(item, line: line.number))
            rest = rest.drop { $0 == " " }
            if rest.hasPrefix(",") {
                rest = rest.dropFirst().drop { $0 == " " }
            } else if !rest.hasPrefix("]") {
                throw YAMLError(line: line.number, message: "expected ',' or ']' in a flow sequence")
            }
        }
        let after = rest.dropFirst().drop { $0 == " " }
        guard after.isEmpty || (after.hasPrefix("#") && rest.dropFirst().first == " ") else {
            throw YAMLError(line: line.number, message: "text after ']'")
        }
        return .sequence(items)
    }

    /// Whether every `[` of `text` (outside quotes) is closed.
    private func flowIsClosed(_ text: String) -> Bool {
        var depth = 0, quote: Character? = nil, escaped = false
        for c in text {
            if let open = quote {
                if escaped { escaped = false } else if c == "\\" && open == "\"" { escaped = true } else if c == open { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "[" {
                depth += 1
            } else if c == "]" {
                depth -= 1
            }
        }
        return depth <= 0 && quote == nil
    }

    /// A plain or quoted scalar.
    private func scalar(_ text: Substring, line: Int) throws(YAMLError) -> YAMLNode {
        guard let open = text.first, open == "\"" || open == "'" else {
            let plain = text.firstRange(of: " #").map { text[..<$0.lowerBound] } ?? text
            return .scalar(String(trimmingTrailingSpaces(plain)))
        }
        let end = try quotedEnd(text, line: line)
        let after = text[end...].drop { $0 == " " }
        guard after.isEmpty || (after.hasPrefix("#") && text[end...].first == " ") else {
            throw YAMLError(line: line, message: "text after a quoted scalar")
        }
        var out = "", characters = text.dropFirst().prefix(text.distance(from: text.startIndex, to: end) - 2)[...]
        while let c = characters.popFirst() {
            if open == "'" {
                out.append(c)
                if c == "'" { characters = characters.dropFirst() }  // '' is one quote
            } else if c == "\\" {
                switch characters.popFirst() {
                case "\"": out += "\""
                case "\\": out += "\\"
                case "/": out += "/"
                case "n": out += "\n"
                case "t": out += "\t"
                case "0": out += "\0"
                case let other: throw YAMLError(line: line, message: "unsupported escape '\\\(other.map(String.init) ?? "")'")
                }
            } else {
                out.append(c)
            }
        }
        return .scalar(out)
    }

    /// The index just past the closing quote of the quoted scalar `text` starts with.
    private func quotedEnd(_ text: Substring, line: Int) throws(YAMLError) -> Substring.Index {
        let open = text.first!
        var i = text.index(after: text.startIndex)
        while i < text.endIndex {
            let c = text[i]
            if open == "\"" && c == "\\" {
                i = text.index(i, offsetBy: 2, limitedBy: text.endIndex) ?? text.endIndex
                continue
            }
            if c == open {
                let next = text.index(after: i)
                if open == "'" && next < text.endIndex && text[next] == "'" {
                    i = text.index(after: next)
                    continue
                }
                return next
            }
            i = text.index(after: i)
        }
        throw YAMLError(line: line, message: "unterminated quoted scalar")
    }

    private func isSequenceItem(_ text: Substring) -> Bool {
        text == "-" || text.hasPrefix("- ")
    }

    /// `key` and what follows `key:` on a mapping line (the key neither quoted nor a flow).
    private func keyAndRest(_ text: Substring) -> (String, Substring)? {
        guard let first = text.first, !"[{\"'|>".contains(first) else { return nil }
        var i = text.startIndex
        while i < text.endIndex {
            if text[i] == ":" {
                let next = text.index(after: i)
                if next == text.endIndex || text[next] == " " {
                    return (String(text[..<i]), text[next...].drop { $0 == " " })
                }
            }
            if text[i] == " ", text[text.index(after: i)...].hasPrefix("#") { return nil }
            i = text.index(after: i)
        }
        return nil
    }
}

private func trimmingTrailingSpaces(_ text: Substring) -> Substring {
    var text = text
    while text.last == " " { text = text.dropLast() }
    return text
}

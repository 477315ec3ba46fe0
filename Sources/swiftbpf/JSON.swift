import BTF

/// JSON text for the commands' `-j` output: strings escaped, objects in the order given, and the
/// indented form `-p` asks for.
enum JSON {
    static func string(_ s: String) -> String { jsonQuoted(s) }

    /// An object of `fields` (each value already JSON).
    static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { string($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    /// `json` (compact, as written here) indented by four spaces a level, as bpftool -p prints.
    static func indented(_ json: String) -> String {
        var out = "", depth = 0, inString = false, escaped = false
        func newline() { out += "\n" + String(repeating: " ", count: 4 * depth) }
        for c in json {
            if inString {
                out.append(c)
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
                continue
            }
            switch c {
            case "\"":
                inString = true
                out.append(c)
            case "{", "[":
                out.append(c)
                depth += 1
                newline()
            case "}", "]":
                depth -= 1
                newline()
                out.append(c)
            case ",":
                out.append(c)
                newline()
            case ":": out += ": "
            default: out.append(c)
            }
        }
        return out
    }
}

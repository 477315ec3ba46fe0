/// C names made into Swift ones, as a Swift developer would write them: types in
/// UpperCamelCase, members in lowerCamelCase, keywords escaped, collisions numbered.
enum SwiftNames {
    static let keywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init", "inout", "internal", "let", "open",
        "operator", "private", "precedencegroup", "protocol", "public", "rethrows", "static", "struct", "subscript", "typealias", "var",
        "break", "case", "catch", "continue", "default", "defer", "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat",
        "return", "throw", "switch", "where", "while", "as", "Any", "false", "is", "nil", "self", "Self", "super", "throws", "true", "try",
        "Type", "Protocol",
    ]

    /// `hist_key` → `HistKey`, `event` → `Event`.
    static func type(_ c: String) -> String {
        let words = words(c)
        let joined = words.map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        return identifier(joined.isEmpty ? "Anonymous" : joined)
    }

    /// `ts_ns` → `tsNs`, `pid` → `pid`.
    static func member(_ c: String) -> String {
        let words = words(c)
        guard let first = words.first else { return "field" }
        let head =
            first.first!.isUppercase && first.allSatisfy({ $0.isUppercase || $0.isNumber })
            ? first.lowercased() : String(first.prefix(1).lowercased() + first.dropFirst())
        return identifier(head + words.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined())
    }

    /// The words of a C name: split at `_` and anything not a letter or digit (`.rodata.str1`).
    private static func words(_ c: String) -> [Substring] {
        c.split { !($0.isLetter || $0.isNumber) || $0 == "_" }
    }

    /// A valid identifier: a leading digit prefixed, anything but letters, digits and `_` dropped.
    private static func identifier(_ name: String) -> String {
        var name = String(name.unicodeScalars.filter { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" })
        if name.isEmpty { name = "field" }
        if name.first!.isNumber { name = "_" + name }
        return name
    }

    /// `name` as written in declarations (backquoted when a keyword).
    static func declared(_ name: String) -> String { keywords.contains(name) ? "`\(name)`" : name }
}

/// Names handed out so far in one scope, each made unique with a number.
struct NameScope {
    private var used: Set<String>

    init(reserved: Set<String> = []) { used = reserved }

    mutating func claim(_ name: String) -> String {
        var candidate = name, n = 2
        while used.contains(candidate) {
            candidate = name + String(n)
            n += 1
        }
        used.insert(candidate)
        return candidate
    }
}

/// The values one command was given, checked against its ``CommandSpec``: options and
/// arguments by name (with their defaults), and the flags that are on.
struct ParsedArguments {
    /// The command's words, `["swiftbpf", "map", "dump"]`, for messages.
    let command: [String]
    // Names and values in arrays of strings, not dictionaries: a command has a few parameters,
    // and the generic metadata of a dictionary (or an array of pairs) costs more at start-up
    // than the linear searches.
    private var names: [String] = [], values: [String] = []
    private var flags: [String] = []

    /// Whether the help was asked for (`-h`, `--help`) instead of a run.
    private(set) var wantsHelp = false

    /// Parses `words` (what follows the command's name) by `spec`'s parameters.
    init(_ words: [String], spec: CommandSpec, command: [String]) throws(UsageError) {
        self.command = command
        var positional: [String] = []
        var index = 0, optionsEnded = false
        while index < words.count {
            let word = words[index]
            index += 1
            if optionsEnded || word == "-" || !word.hasPrefix("-") {
                positional.append(word)
                continue
            }
            if word == "--" {
                optionsEnded = true
                continue
            }
            if word == "-h" || word == "--help" {
                wantsHelp = true
                return
            }
            let isLong = word.hasPrefix("--")
            let body = word.dropFirst(isLong ? 2 : 1)
            let name = isLong ? String(body.prefix { $0 != "=" }) : String(body)
            let inline = isLong && body.contains("=") ? String(body.drop { $0 != "=" }.dropFirst()) : nil
            guard
                let parameter = spec.parameters.first(where: {
                    ($0.kind == .option || $0.kind == .flag) && (isLong ? $0.name == name : name.count == 1 && $0.short == name.first)
                })
            else {
                throw UsageError(command: command, message: "unknown option '\(word)'")
            }
            if parameter.kind == .flag {
                guard inline == nil else { throw UsageError(command: command, message: "'--\(parameter.name)' takes no value") }
                flags.append(parameter.name)
            } else if let inline {
                set(parameter.name, inline)
            } else {
                guard index < words.count else { throw UsageError(command: command, message: "missing value for '\(word)'") }
                set(parameter.name, words[index])
                index += 1
            }
        }
        var remaining = positional[...]
        for parameter in spec.parameters {
            switch parameter.kind {
            case .argument, .optionalArgument:
                if let value = remaining.popFirst() {
                    set(parameter.name, value)
                } else if parameter.kind == .argument {
                    throw UsageError(command: command, message: "missing expected argument '<\(parameter.name)>'")
                }
            case .arguments:
                guard !remaining.isEmpty else { throw UsageError(command: command, message: "missing expected argument '<\(parameter.name)>'") }
                while let value = remaining.popFirst() {
                    names.append(parameter.name)
                    values.append(value)
                }
            case .option:
                if string(parameter.name) == nil, let value = parameter.defaultValue { set(parameter.name, value) }
            case .flag:
                break
            }
        }
        if let extra = remaining.first { throw UsageError(command: command, message: "unexpected argument '\(extra)'") }
    }

    /// Gives `name` its value; an option given twice keeps the last.
    private mutating func set(_ name: String, _ value: String) {
        if let index = names.firstIndex(of: name) {
            values[index] = value
        } else {
            names.append(name)
            values.append(value)
        }
    }

    /// Whether the flag `--name` was given.
    func flag(_ name: String) -> Bool { flags.contains(name) }

    /// The option's or argument's text (or the option's default); nil when it has none.
    func string(_ name: String) -> String? { names.firstIndex(of: name).map { values[$0] } }

    /// Every value of a repeated argument, in order.
    func arguments(_ name: String) -> [String] { names.indices.filter { names[$0] == name }.map { values[$0] } }

    /// The text of an argument the parse has made sure of.
    func argument(_ name: String) -> String { string(name) ?? "" }

    /// The option's value read by `parse` (nil when absent); a value `parse` refuses is a usage error.
    func value<T>(_ name: String, _ parse: (String) -> T?) throws(UsageError) -> T? {
        guard let text = string(name) else { return nil }
        guard let value = parse(text) else {
            throw UsageError(command: command, message: "the value '\(text)' is invalid for '--\(name) <\(name)>'")
        }
        return value
    }

    /// The option's value as a number (or other text-convertible type); nil when absent.
    func value<T: LosslessStringConvertible>(_ name: String, as type: T.Type = T.self) throws(UsageError) -> T? {
        try value(name) { T($0) }
    }
}

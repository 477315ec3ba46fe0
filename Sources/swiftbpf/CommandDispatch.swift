import BPFPlatform

extension CommandSpec {
    /// Runs what `words` (the command line after the tool's name) asks of this root command:
    /// a subcommand's action, or help (`-h`, `--help`, `help COMMAND…`). Returns the exit
    /// status: 0, 1 when the command failed (its error printed as `swiftbpf: …`), 64 for a
    /// command line that does not fit (printed with the usage).
    func main(_ words: [String]) -> Int32 {
        do {
            if words.first == "help" {
                let names = Array(words.dropFirst())
                print(try resolve(names).help([name] + names), terminator: "")
                return 0
            }
            try dispatch(words[...], path: [name])
            return 0
        } catch let error as UsageError {
            printError("\(error.command.joined(separator: " ")): \(error.message)")
            if let spec = try? resolve(Array(error.command.dropFirst())) {
                printError("usage: \(spec.usage(error.command))\nSee '\(error.command.joined(separator: " ")) --help'.")
            }
            return 64
        } catch let status as ExitStatus {
            return status.code
        } catch {
            printError("\(name): \(error)")
            return 1
        }
    }

    private func dispatch(_ words: ArraySlice<String>, path: [String]) throws {
        guard let action else {
            guard let word = words.first, word != "-h", word != "--help" else {
                print(help(path), terminator: "")
                return
            }
            return try subcommand(word, path: path).dispatch(words.dropFirst(), path: path + [word])
        }
        let arguments = try ParsedArguments(Array(words), spec: self, command: path)
        if arguments.wantsHelp {
            print(help(path), terminator: "")
        } else {
            try action(arguments)
        }
    }

    /// The command `names` leads to under this one.
    private func resolve(_ names: [String]) throws(UsageError) -> CommandSpec {
        var spec = self, path = [name]
        for word in names { (spec, path) = (try spec.subcommand(word, path: path), path + [word]) }
        return spec
    }

    /// The subcommand named `word`; `path` names this command in the error when there is none.
    private func subcommand(_ word: String, path: [String]) throws(UsageError) -> CommandSpec {
        guard let next = subcommands.first(where: { $0.name == word }) else {
            throw UsageError(command: path, message: "unknown subcommand '\(word)'")
        }
        return next
    }

    /// `swiftbpf load <object> [--kernel] …` or `swiftbpf map <subcommand>`.
    func usage(_ path: [String]) -> String {
        if action == nil { return path.joined(separator: " ") + " <subcommand>" }
        let words = parameters.map { parameter in
            switch parameter.kind {
            case .argument, .arguments, .optionalArgument: parameter.synopsis
            case .option: "[--\(parameter.name) <\(parameter.name)>]"
            case .flag: "[--\(parameter.name)]"
            }
        }
        return (path + words).joined(separator: " ")
    }

    /// The help page: overview, usage, then each argument, option and subcommand.
    func help(_ path: [String]) -> String {
        var text = wrap("OVERVIEW: " + abstract, indent: 0) + "\n"
        if !discussion.isEmpty { text += wrap(discussion, indent: 0) + "\n" }
        text += wrap("USAGE: " + usage(path), indent: 7) + "\n"
        let arguments = parameters.filter { [.argument, .arguments, .optionalArgument].contains($0.kind) }
        if !arguments.isEmpty {
            text += "ARGUMENTS:\n" + arguments.map { row($0.synopsis, $0.help) }.joined()
        }
        if action != nil {
            let options = parameters.filter { $0.kind == .option || $0.kind == .flag }.map { option in
                row(option.synopsis, option.help + (option.defaultValue.map { " (default: \($0))" } ?? ""))
            }
            text += (arguments.isEmpty ? "" : "\n") + "OPTIONS:\n" + options.joined() + row("-h, --help", "Show help information.")
        } else {
            text += "SUBCOMMANDS:\n" + subcommands.map { row($0.name, $0.abstract) }.joined()
            let helpCommand = ([path.first ?? name, "help"] + path.dropFirst()).joined(separator: " ")
            text += "\n" + wrap("See '\(helpCommand) <subcommand>' for a subcommand's help.", indent: 0)
        }
        return text
    }
}

/// One entry of a help table: `label` in a column of 26, `help` wrapped beside it.
private func row(_ label: String, _ help: String) -> String {
    let column = 26, margin = String(repeating: " ", count: column)
    let label = "  " + label
    let lead = label.count < column ? label + String(repeating: " ", count: column - label.count) : label + "\n" + margin
    return lead + lines(help, width: 80 - column).joined(separator: "\n" + margin) + "\n"
}

/// `text` wrapped at 80 columns, its continuation lines indented by `indent`.
private func wrap(_ text: String, indent: Int) -> String {
    let margin = String(repeating: " ", count: indent)
    return text.split(separator: "\n").map { lines(String($0), width: 80 - indent).joined(separator: "\n" + margin) + "\n" }.joined()
}

/// `text`'s words in lines of at most `width` characters (longer words alone on theirs).
private func lines(_ text: String, width: Int) -> [String] {
    var lines: [String] = [], line = ""
    for word in text.split(separator: " ") {
        if !line.isEmpty, line.count + 1 + word.count > width {
            lines.append(line)
            line = ""
        }
        line += (line.isEmpty ? "" : " ") + word
    }
    return lines + [line]
}

/// Writes a line to standard error.
func printError(_ text: String) {
    let bytes = Array((text + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

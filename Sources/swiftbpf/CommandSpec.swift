/// What a command of the tool takes and does: its name and help, its arguments, options and
/// flags, and either its subcommands or the action that runs it.
///
/// The tool parses its command line with this small declarative table, not a reflection-based
/// parser: it starts in about a millisecond, as C tools do, where Swift Argument Parser and the
/// Foundation it links took several (`swiftbpf load` is measured against `bpftool prog loadall`).
struct CommandSpec: Sendable {
    var name: String
    var abstract: String
    var discussion: String
    var parameters: [Parameter]
    var subcommands: [CommandSpec]
    var action: (@Sendable (ParsedArguments) throws -> Void)?

    /// A command that runs `action` on its parsed arguments.
    init(
        _ name: String, abstract: String, discussion: String = "", parameters: [Parameter] = [],
        action: @escaping @Sendable (ParsedArguments) throws -> Void
    ) {
        (self.name, self.abstract, self.discussion, self.parameters, self.subcommands, self.action) =
            (name, abstract, discussion, parameters, [], action)
    }

    /// A command that only groups `subcommands`.
    init(_ name: String, abstract: String, discussion: String = "", subcommands: [CommandSpec]) {
        (self.name, self.abstract, self.discussion, self.parameters, self.subcommands, self.action) =
            (name, abstract, discussion, [], subcommands, nil)
    }
}

/// One argument, option or flag of a command.
struct Parameter: Sendable {
    enum Kind: Sendable { case argument, arguments, optionalArgument, option, flag }
    var kind: Kind
    /// The long name (`--name`) of options and flags; the placeholder (`<name>`) of arguments.
    var name: String
    var short: Character?
    var help: String
    /// An option's value when it is not given, shown in the help.
    var defaultValue: String?

    /// A positional argument that must be given.
    static func argument(_ name: String, _ help: String) -> Parameter {
        Parameter(kind: .argument, name: name, help: help)
    }

    /// One or more positional arguments: the command's last.
    static func arguments(_ name: String, _ help: String) -> Parameter {
        Parameter(kind: .arguments, name: name, help: help)
    }

    /// A positional argument that may be left out.
    static func optionalArgument(_ name: String, _ help: String) -> Parameter {
        Parameter(kind: .optionalArgument, name: name, help: help)
    }

    /// `--name VALUE` (or `--name=VALUE`, or `-s VALUE` with a short name).
    static func option(_ name: String, short: Character? = nil, _ help: String, default defaultValue: String? = nil) -> Parameter {
        Parameter(kind: .option, name: name, short: short, help: help, defaultValue: defaultValue)
    }

    /// `--name` (or `-s` with a short name), on or off.
    static func flag(_ name: String, short: Character? = nil, _ help: String) -> Parameter {
        Parameter(kind: .flag, name: name, short: short, help: help)
    }

    /// How the parameter is written in the usage line and the help.
    var synopsis: String {
        switch kind {
        case .argument: "<\(name)>"
        case .arguments: "<\(name)> ..."
        case .optionalArgument: "[<\(name)>]"
        case .option: (short.map { "-\($0), " } ?? "") + "--\(name) <\(name)>"
        case .flag: (short.map { "-\($0), " } ?? "") + "--\(name)"
        }
    }
}

/// A command line that does not fit the command: printed with the command's usage, exit status 64.
struct UsageError: Error {
    var command: [String]
    var message: String
}

/// Ends the tool with this exit status, printing nothing more (the command has said why).
struct ExitStatus: Error {
    var code: Int32
    init(_ code: Int32) { self.code = code }
}

import ArgumentParser

@main
struct SwiftBPFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftbpf",
        abstract: "The eBPF system in Swift: assemble, disassemble, run, test and benchmark eBPF programs.",
        subcommands: [AsmCommand.self, DisasmCommand.self, RunCommand.self, VerifyCommand.self, VerifierTestsCommand.self, ConformanceCommand.self, BTFCommand.self, TraceCommand.self, LoadCommand.self, ProgCommand.self, MapCommand.self, BenchCommand.self]
    )
}

/// A command-line failure: printed as `swiftbpf: <message>` with exit status 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

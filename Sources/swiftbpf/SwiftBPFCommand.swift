import BPFPlatform

@main
enum SwiftBPFCommand {
    static let spec = CommandSpec(
        "swiftbpf",
        abstract: "The eBPF system in Swift: assemble, disassemble, run, verify, load, trace and benchmark eBPF programs.",
        discussion:
            "Exit status, for every command: 0 when it did what was asked; 1 when it failed (the reason printed as 'swiftbpf: ...'), or found what it checks for (a program refused, a test failed, a verdict only we give); 64 when the command line does not fit (the usage printed).",
        subcommands: [
            AsmCommand.spec, DisasmCommand.spec, RunCommand.spec, PcapCommand.spec, VerifyCommand.spec, VerifierTestsCommand.spec,
            ConformanceCommand.spec, BTFCommand.spec, TraceCommand.spec, LoadCommand.spec, ProgCommand.spec,
            MapCommand.spec, LinkCommand.spec, FeatureCommand.spec, GenCommand.spec, BenchCommand.spec, FuzzVerifierCommand.spec,
        ]
    )

    static func main() {
        let status = spec.main(Array(CommandLine.arguments.dropFirst()))
        fflush(nil)
        exit(status)
    }
}

/// A command-line failure: printed as `swiftbpf: <message>` with exit status 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

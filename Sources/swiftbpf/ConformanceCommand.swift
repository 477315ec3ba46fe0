import BPFVM
import BPFConformance

struct ConformanceCommand {
    static let spec = CommandSpec(
        "conformance",
        abstract: "Run every .data file of a BPF conformance suite directory.",
        discussion: "Prints one line per failure and closes with 'N passed, M failed'; exits 1 on any failure.",
        parameters: [
            .argument("directory", "Directory of .data conformance files."),
            .option("engine", "checked (bounds-checked), interpreter or jit (native code).", default: "checked"),
            .option(
                "arch",
                "With --engine jit: the JIT backend, x86_64 or arm64 (default: this host's). arm64 code runs natively on arm64 hosts, under qemu-aarch64 elsewhere."
            ),
            .option("runner", "With --arch arm64: the runner built from scripts/arm64-runner.c (scripts/test-arm64 builds it)."),
            .flag("no-lse", "With --arch arm64: atomics as load/store-exclusive loops instead of LSE instructions."),
        ]
    ) { try ConformanceCommand($0).run() }

    var directory: String
    var engine: ExecutionMode
    /// With --arch arm64 (on a host that is not arm64, or with --runner): the runner and
    /// whether atomics use LSE.
    var emulated: (runner: String, lse: Bool)?

    init(_ arguments: ParsedArguments) throws(UsageError) {
        directory = arguments.argument("directory")
        engine = try arguments.engine() ?? .checked()
        func usage(_ message: String) -> UsageError { UsageError(command: arguments.command, message: message) }
        let names = NativeCode.Architecture.allCases.map(\.rawValue).joined(separator: ", ")
        guard let arch = arguments.string("arch") else {
            if arguments.string("runner") != nil || arguments.flag("no-lse") { throw usage("--runner and --no-lse apply to --arch arm64") }
            return
        }
        guard let architecture = NativeCode.Architecture(rawValue: arch) else { throw usage("--arch: '\(arch)' is not one of \(names)") }
        guard case .jit = engine else { throw usage("--arch chooses the JIT's backend: it needs --engine jit") }
        guard architecture == .arm64 else {
            if architecture != NativeCode.Architecture.host { throw usage("--arch x86_64: x86-64 code runs only on an x86-64 host") }
            return
        }
        guard let runner = arguments.string("runner") else { throw usage("--arch arm64 needs --runner (scripts/test-arm64 builds it)") }
        emulated = (runner, !arguments.flag("no-lse"))
    }

    func run() throws {
        guard let files = ConformanceRunner.files(in: directory) else { throw CLIError("\(directory): cannot read the directory") }
        guard !files.isEmpty else { throw CLIError("\(directory): no .data conformance files there") }
        var passed = 0, failed = 0
        let verdicts: [(path: String, outcome: ConformanceRunner.Outcome)]
        if let emulated {
            do { verdicts = try ARM64Emulation.conformance(files, runner: emulated.runner, largeSystemExtensions: emulated.lse) } catch {
                throw CLIError("conformance --arch arm64: \(error)")
            }
        } else {
            verdicts = files.map { ($0, ConformanceRunner.run(path: $0, engine: engine)) }
        }
        for (path, outcome) in verdicts {
            switch outcome {
            case .passed: passed += 1
            case let .failed(reason):
                failed += 1
                print("FAIL \(path): \(reason)")
            }
        }
        print("\(passed) passed, \(failed) failed")
        if failed > 0 { throw ExitStatus(1) }
    }
}

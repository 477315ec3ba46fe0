import BPFVM
import BPFConformance

struct ConformanceCommand {
    static let spec = CommandSpec(
        "conformance",
        abstract: "Run every .data file of a BPF conformance suite directory.",
        discussion: "Prints one line per failure and closes with 'N passed, M failed'; exits 1 on any failure.",
        parameters: [
            .argument("directory", "Directory of .data conformance files."),
            .option("engine", "checked (bounds-checked), interpreter or jit (x86-64 native code).", default: "checked"),
        ]
    ) { try ConformanceCommand($0).run() }

    var directory: String
    var engine: ExecutionMode

    init(_ arguments: ParsedArguments) throws(UsageError) {
        directory = arguments.argument("directory")
        engine = try arguments.engine() ?? .checked()
    }

    func run() throws {
        guard let files = ConformanceRunner.files(in: directory) else { throw CLIError("\(directory): cannot read the directory") }
        guard !files.isEmpty else { throw CLIError("\(directory): no .data conformance files there") }
        var passed = 0, failed = 0
        for path in files {
            switch ConformanceRunner.run(path: path, engine: engine) {
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

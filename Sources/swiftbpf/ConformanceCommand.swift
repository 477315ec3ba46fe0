import ArgumentParser
import BPFConformance

struct ConformanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conformance",
        abstract: "Run every .data file of a BPF conformance suite directory.",
        discussion: "Prints one line per failure and closes with 'N passed, M failed'; exits 1 on any failure."
    )

    @Argument(help: "Directory of .data conformance files.") var directory: String
    @Option(help: "checked (bounds-checked, the default until the verifier lands), interpreter or jit (x86-64 native code).") var engine: Engine = .checked

    func run() throws {
        guard let files = ConformanceRunner.files(in: directory) else { throw CLIError("\(directory): cannot read the directory") }
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
        if failed > 0 { throw ExitCode(1) }
    }
}

import BPFConformance

struct VerifierTestsCommand {
    static let spec = CommandSpec(
        "verifier-tests",
        abstract: "Run the verifier test vectors (PREVAIL's YAML format) and compare verdicts.",
        discussion: """
            Each case is judged on its verdict: safe when the vector expects no message. Prints \
            every disagreement (or every case with --verbose), a summary by file, and closes \
            with 'N passed, M failed'. Exits 1 when any case disagrees.
            """,
        parameters: [
            .argument("directory", "The test vector directory (holding test-data/*.yaml, or the .yaml files)."),
            .flag("verbose", "Print every case, not only disagreements."),
            .option("only", "Run only cases whose file or name contains this text."),
        ]
    ) { try VerifierTestsCommand($0).run() }

    var directory: String
    var verbose: Bool
    var only: String?

    init(_ arguments: ParsedArguments) {
        directory = arguments.argument("directory")
        verbose = arguments.flag("verbose")
        only = arguments.string("only")
    }

    func run() throws {
        var cases: [VerifierTestCase]
        do { cases = try VerifierTestVectors.load(directory: directory) } catch { throw CLIError("\(error)") }
        if let only { cases = cases.filter { $0.file.contains(only) || $0.name.contains(only) } }
        guard !cases.isEmpty else { throw CLIError("\(directory): no test vectors") }
        var passed = 0
        var byFile: [String: (passed: Int, total: Int)] = [:]
        for testCase in cases {
            let outcome = VerifierTestVectors.run(testCase)
            if outcome.agrees { passed += 1 }
            byFile[testCase.file, default: (0, 0)].total += 1
            if outcome.agrees { byFile[testCase.file, default: (0, 0)].passed += 1 }
            if !outcome.agrees || verbose {
                let expected = testCase.expectsSafe ? "safe" : "unsafe"
                let got = outcome.safe ? "safe" : "unsafe (\(outcome.reason ?? ""))"
                print("\(outcome.agrees ? "agree   " : "DISAGREE") \(testCase.file): \(testCase.name): expected \(expected), got \(got)")
            }
        }
        print("")
        for (file, counts) in byFile.sorted(by: { $0.key < $1.key }) {
            print("\(file.padding(toLength: 16)) \(counts.passed)/\(counts.total)")
        }
        let percent = Double(passed) * 100 / Double(cases.count)
        print("verdict agreement: \((percent * 10).rounded() / 10)%")
        print("\(passed) passed, \(cases.count - passed) failed")
        if passed < cases.count { throw ExitStatus(1) }
    }
}

private extension String {
    func padding(toLength n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}

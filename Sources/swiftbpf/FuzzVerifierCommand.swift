import BPFPlatform
import BPFCore
import BPFFuzz
import BPFKernel

struct FuzzVerifierCommand {
    static let spec = CommandSpec(
        "fuzz-verifier",
        abstract: "Differential fuzzing of SwiftBPF's verifier against the running kernel's.",
        discussion: """
            Generates structured programs (bounds on both sides of 32- and 64-bit comparisons, \
            spills and fills of every width, pointers across call frames, context fields at \
            every offset and width, helper arguments, atomics, ldsx, packet ranges), verifies \
            each with SwiftBPF's verifier and, with --kernel, loads it into the kernel. Each \
            program accepted only by us is minimized and printed. Prints what the programs \
            exercised (gadgets, the kernel's refusals by kind) and ends with the line \
            'N programs: A both accept, B both refuse, C accepted only by us, D refused only by us'. \
            Exits 1 when C is not 0. Without --kernel, only our verifier runs (a crash hunt).
            """,
        parameters: [
            .flag("kernel", "Compare with the running kernel's verifier (needs bpf(2): root on Linux)."),
            .option("count", "How many programs.", default: "10000"),
            .option("seed", "The generator's seed.", default: "1"),
            .flag("no-minimize", "Print programs accepted only by us as generated."),
            .flag(
                "privileged",
                "Verify as a root kernel loader does (allow_uninit_stack: reading unwritten stack is allowed), as the oracle's kernel does; the userspace runtime never does."
            ),
            .option("save", "Write each program accepted only by us to this directory as raw instructions (TYPE-N.bin)."),
        ]
    ) { try FuzzVerifierCommand($0).run() }

    var kernel: Bool
    var count: Int
    var seed: UInt64
    var minimize: Bool
    var privileged: Bool
    var save: String?

    init(_ arguments: ParsedArguments) throws(UsageError) {
        kernel = arguments.flag("kernel")
        count = try arguments.value("count") ?? 10000
        seed = try arguments.value("seed") ?? 1
        minimize = !arguments.flag("no-minimize")
        privileged = arguments.flag("privileged")
        save = arguments.string("save")
        let command = ["swiftbpf", "fuzz-verifier"]
        guard count > 0 else { throw UsageError(command: command, message: "--count must be at least 1") }
        if !kernel, save != nil || !minimize {
            throw UsageError(command: command, message: "--save and --no-minimize apply to programs only we accept: they need --kernel")
        }
    }

    func run() throws {
        let oracle: DifferentialFuzzer.Oracle
        if kernel {
            if let reason = KernelSupport.unavailableReason { throw CLIError("--kernel: \(reason)") }
            let kernelOracle: KernelOracle
            do { kernelOracle = try KernelOracle() } catch { throw CLIError("--kernel: the fuzzing maps: \(error)") }
            oracle = kernelOracle.verdict
            if let save, !makeDirectories(save) { throw CLIError("--save: cannot create the directory \(save)") }
        } else {
            oracle = { _ in .notJudged("no --kernel") }
        }
        let summary = DifferentialFuzzer.run(count: count, seed: seed, oracle: oracle, minimize: minimize, privileged: privileged) { s in
            if s.programs % 10_000 == 0 { printError("… \(s.line)") }
        }
        print("gadgets (programs using each):")
        for gadget in Gadget.allCases { print("  \(gadget.rawValue): \(summary.gadgets[gadget] ?? 0)") }
        if kernel {
            print("the kernel's refusals by kind (\(summary.kernelRefusals.count) kinds):")
            for (kind, n) in summary.kernelRefusals.sorted(by: { $0.value > $1.value }) { print("  \(n)  \(kind)") }
            print("refused only by us, by our refusal (\(summary.refusedOnlyByUs.count) kinds):")
            for (kind, n) in summary.refusedOnlyByUs.sorted(by: { $0.value > $1.value }) { print("  \(n)  \(kind)") }
            if !summary.notJudgedReasons.isEmpty {
                print("not judged by the kernel: " + summary.notJudgedReasons.map { "\($0.value) \($0.key)" }.joined(separator: ", ") + "; for example:")
                for p in summary.notJudgedExamples { print(Disassembler.listing(p.code).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")) }
            }
        } else {
            print("our refusals by kind (\(summary.ourRefusals.count) kinds):")
            for (kind, n) in summary.ourRefusals.sorted(by: { $0.value > $1.value }) { print("  \(n)  \(kind)") }
            print("\(summary.programs) programs: \(summary.programs - summary.ourRefusals.values.reduce(0, +)) accepted by us, none crashed the verifier")
            return
        }
        for d in summary.acceptedOnlyByUs {
            print("accepted only by us (seed \(d.seed), program \(d.index), \(d.program.type)); the kernel: \(d.kernel)")
            print(Disassembler.listing(d.program.code).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
            if let save, !writeFile("\(save)/\(d.program.type)-\(d.index).bin", Instruction.encode(d.program.code)) {
                throw CLIError("\(save): cannot write the program")
            }
        }
        print(summary.line)
        if summary.onlyUs > 0 { throw ExitStatus(1) }
    }
}

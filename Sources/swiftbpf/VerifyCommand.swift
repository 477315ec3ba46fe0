import BPFPlatform
import BPFCore
import BPFObject
import BTF
import SwiftBPF

struct VerifyCommand {
    static let spec = CommandSpec(
        "verify",
        abstract: "Prove objects' programs safe with SwiftBPF's verifier.",
        discussion: """
            Prints a line per program: the verdict, instructions processed, states remembered, \
            and the time taken. A refused program gets the instruction, the register state \
            there, the reason in the kernel's words and, with BTF line info, the C source line. \
            Exits 0 when every program is accepted, 1 otherwise. Verifying needs no map to be created: \
            the object's map specifications are enough. With --kernel-compare, each program is also \
            loaded alone into the running kernel, both verdicts are printed, and a last line sums them \
            up: A both accept, B both refuse, C accepted only by us, D refused only by us (our kernel \
            loader's failures included), E not judged by the kernel (refused before its verifier ran). \
            Given several objects, each gets a '== OBJECT' heading, and --kernel-compare's last line sums \
            them all.
            """,
        parameters: [
            .arguments("object", "Clang-compiled BPF objects (.o), or programs in the kernel's pseudo-C syntax (text)."),
            .option("type", "For a pseudo-C program: its program type (xdp, socket, tracepoint, tc, raw_tracepoint, kprobe; default xdp)."),
            .option("program", "Verify only this program (by function name)."),
            .flag("log", "Print the verifier's step-by-step log in the kernel's format (its log level 2: what each instruction changed)."),
            .option("btf", "BTF to CO-RE relocate against (default: /sys/kernel/btf/vmlinux when present)."),
            .option("repeat", "Verify each program this many times and report the fastest (for timing and profiling).", default: "1"),
            .flag("kernel-compare", "Also load each program alone into the running kernel and compare the verdicts."),
        ]
    ) { try VerifyCommand($0).run() }

    var objects: [String]
    /// `--type`, for pseudo-C programs (an object's programs have their sections' types).
    var type: ProgramType?
    var program: String?
    var log: Bool
    var btf: String?
    var runs: Int
    var kernelCompare: Bool

    init(_ arguments: ParsedArguments) throws(UsageError) {
        objects = arguments.arguments("object")
        if let name = arguments.string("type") {
            guard let type = Self.textTypes[name] else {
                throw UsageError(
                    command: arguments.command,
                    message: "--type: unknown program type '\(name)' (one of \(Self.textTypes.keys.sorted().joined(separator: ", ")))")
            }
            self.type = type
        }
        program = arguments.string("program")
        log = arguments.flag("log")
        btf = arguments.string("btf")
        runs = try arguments.value("repeat") ?? 1
        kernelCompare = arguments.flag("kernel-compare")
    }

    func run() throws {
        var failed = false
        var totals: [Character: Int] = [:]
        let target = try loadTargetBTF(btf)
        for object in objects {
            if objects.count > 1 { print("== \(object)") }
            do {
                let (accepted, counts) = try verify(object, target: target)
                if !accepted { failed = true }
                if let counts { totals.merge(counts, uniquingKeysWith: +) }
            } catch {
                // One unreadable object does not stop the others.
                if objects.count == 1 { throw error }
                printError("\(error)")
                failed = true
            }
        }
        if kernelCompare, objects.count > 1 { print(VerdictComparison.summary(totals)) }
        if failed { throw ExitStatus(1) }
    }

    /// Verifies one object (or pseudo-C program): whether every program passed (with
    /// --kernel-compare: none was accepted only by us), and --kernel-compare's counts by category.
    private func verify(_ object: String, target: BTF?) throws -> (passed: Bool, counts: [Character: Int]?) {
        let file: ObjectFile
        guard let bytes = readFile(object) else { throw CLIError("\(object): cannot read the file") }
        guard bytes.starts(with: [0x7f, 0x45, 0x4c, 0x46]) else {
            return (try verifyText(String(decoding: bytes, as: UTF8.self), object: object), nil)
        }
        if type != nil {
            throw CLIError("\(object): --type applies to pseudo-C programs; an object's programs take their types from their sections")
        }
        do { file = try ObjectFile(bytes: bytes) } catch { throw CLIError("\(object): \(error)") }
        guard !file.programs.isEmpty else {
            throw CLIError("\(object): no programs: no function symbol lies in a program section (SEC(\"...\")) of this object")
        }
        let names = program.map { [$0] } ?? file.programs.map(\.name)
        if kernelCompare {
            let counts = try compare(file, names, target: target)
            return (counts["C", default: 0] == 0, counts)
        }
        var refused = 0
        for name in names {
            do {
                var report = try file.verify(program: name, target: target, log: log)
                for _ in 1..<max(runs, 1) {
                    let next = try file.verify(program: name, target: target, log: false)
                    if next.nanoseconds < report.nanoseconds { report.nanoseconds = next.nanoseconds }
                }
                if log { report.log.forEach { print($0) } }
                print("\(name): \(summary(report))")
            } catch {
                refused += 1
                if let failure = error.verification {
                    print("\(name): REFUSED at instruction \(failure.instruction): \(failure.text)")
                    print("  \(failure.message)")
                    if !failure.registers.isEmpty { print("  state: \(failure.registers)") }
                    if let line = failure.sourceLine { print("  source: \(line)") }
                } else {
                    print("\(name): REFUSED: \(error.reason)")
                }
            }
        }
        return (refused == 0, nil)
    }
}

extension VerifyCommand {
    /// Our verdict and the kernel's for each program, and the summary line.
    private func compare(_ file: ObjectFile, _ names: [String], target: BTF?) throws -> [Character: Int] {
        if let reason = KernelSupport.unavailableReason { throw CLIError("verify --kernel-compare: \(reason)") }
        let results = VerdictComparison.compare(file, programs: names, target: target)
        for r in results {
            let kernel: String
            switch r.kernel {
            case .accepted: kernel = "accepted"
            case let .refused(line): kernel = "refused: \(line)"
            case let .notJudged(reason): kernel = "not judged: \(reason)"
            case let .notPrepared(reason): kernel = "not prepared by our loader: \(reason)"
            }
            print("\(r.category) \(r.program): ours \(r.ours.map { "refused: \($0)" } ?? "accepted"); kernel \(kernel)")
        }
        let counts = Dictionary(results.map { ($0.category, 1) }, uniquingKeysWith: +)
        print(VerdictComparison.summary(counts))
        return counts
    }

    /// The program types `--type` names.
    static let textTypes: [String: ProgramType] = [
        "xdp": .xdp, "socket": .socketFilter, "tracepoint": .tracepoint, "tc": .schedCLS, "raw_tracepoint": .rawTracepoint, "kprobe": .kprobe,
    ]

    /// Verifies a pseudo-C program of the type `--type` names (no maps): whether it passed.
    private func verifyText(_ text: String, object: String) throws -> Bool {
        let programType = type ?? .xdp
        let code: [Instruction]
        do { code = try PseudoCAssembler.assemble(text) } catch { throw CLIError("\(object): \(error)") }
        var configuration = Verifier.Configuration(programType: programType)
        configuration.log = log
        do {
            let report = try Verifier.verify(code, configuration)
            if log { report.log.forEach { print($0) } }
            print("\(object): \(summary(report))")
            return true
        } catch {
            print("\(object): REFUSED at \(error)")
            return false
        }
    }
}

/// The verdict line of an accepted program.
private func summary(_ report: VerifierReport) -> String {
    "accepted, \(report.processedInstructions) insns processed, \(report.totalStates) states (peak \(report.peakStates)), "
        + "stack \(report.stackDepth) B, \(formatMicroseconds(report.nanoseconds))"
}

/// The BTF CO-RE relocations resolve against: the file named, else the running kernel's.
func loadTargetBTF(_ path: String?) throws -> BTF? {
    let path = path ?? "/sys/kernel/btf/vmlinux"
    guard let bytes = readFile(path) else {
        if path == "/sys/kernel/btf/vmlinux" { return nil }
        throw CLIError("\(path): cannot read the file")
    }
    do { return try BTF(bytes: bytes) } catch { throw CLIError("\(path): \(error)") }
}

func formatMicroseconds(_ nanoseconds: UInt64) -> String {
    let us = Double(nanoseconds) / 1000
    return us < 1000 ? "\(Int(us.rounded())) µs" : "\(format2(us / 1000)) ms"
}

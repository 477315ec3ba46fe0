import BPFBenchmarks
import BPFCore
import BPFKernel
import BPFObject
import BPFVM
import SwiftBPF
import SwiftBPFBench
import BPFPlatform

struct BenchCommand {
    static let spec = CommandSpec(
        "bench",
        abstract: "Time the benchmark programs on each engine, side by side with the kernel JIT.",
        discussion: """
            Compiles the four programs of the bench folder with clang (-O2 -g -target bpf) and runs each \
            on its packet in the userspace interpreter (fast and checked), in our JIT's native code (x86-64 and arm64 \
            hosts), and in the kernel through BPF_PROG_TEST_RUN, whose mean duration is the kernel JIT's \
            figure, in the same run. Our JIT's compile time is shown too, for both backends. Without \
            clang or the bench folder, the alu program's hand-written equivalent is timed. The kernel \
            column is omitted, with the reason, where bpf(2) is unavailable.
            """,
        parameters: [
            .option("repeat", "Runs per measurement.", default: "1000"),
            .option("rounds", "Measurements per engine; the best is reported.", default: "5"),
            .option("bench-dir", "The folder of benchmark C programs.", default: "../shared/bench"),
            .option("only", "Run one part only: engines, verifier, loading, ringbuf, filters or probes."),
            .option("write", "Also write the tables to this Markdown file (scripts/run writes docs/performance.md)."),
        ]
    ) { try BenchCommand($0).run() }

    var runs: Int
    var rounds: Int
    var benchDir: String
    var only: Benchmark.Part?
    var write: String?

    init(_ arguments: ParsedArguments) throws(UsageError) {
        runs = try arguments.value("repeat") ?? 1000
        rounds = try arguments.value("rounds") ?? 5
        benchDir = arguments.argument("bench-dir")
        if let part = arguments.string("only") {
            guard let known = Benchmark.Part(rawValue: part) else {
                throw UsageError(
                    command: ["swiftbpf", "bench"],
                    message: "--only: '\(part)' is not one of \(Benchmark.Part.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            only = known
        }
        write = arguments.string("write")
    }

    func run() throws {
        let lines = LineCollector()
        let benchmark = Benchmark(runs: runs, rounds: rounds, benchDir: benchDir) { line in
            print(line)
            lines.append(line)
        }
        do { try benchmark.run(only: only) } catch { throw CLIError("bench: \(error)") }
        guard let write else { return }
        var system = utsname()
        _ = uname(&system)
        func field<T>(_ value: T) -> String { withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } }
        let text = """
            # Performance

            Written by `swiftbpf bench\(only.map { " --only \($0.rawValue)" } ?? "")` (`scripts/run` runs it); \
            not edited by hand. Machine: \(field(system.sysname)) \(field(system.release)) \(field(system.machine)), \
            \(PossibleCPUs.count) CPUs. Every figure is the best of \(rounds) measurements of \(runs) runs, beside its peer's \
            from the same run.

            ```
            \(lines.text)
            ```

            """
        guard writeFile(write, Array(text.utf8)) else { throw CLIError("--write \(write): cannot write the file") }
    }
}

/// Lines the bench prints, kept for ``BenchCommand/write``.
private final class LineCollector: @unchecked Sendable {
    private var lines: [String] = []
    func append(_ line: String) { lines.append(line) }
    var text: String { lines.joined(separator: "\n") }
}

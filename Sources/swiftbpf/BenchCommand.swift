import ArgumentParser
import BPFBenchmarks
import BPFCore
import BPFKernel
import BPFVM
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the benchmark programs on each engine, side by side with the kernel JIT.",
        discussion: """
            The kernel figure is BPF_PROG_TEST_RUN's mean duration for the same program on the same \
            packet, measured in the same run; it is omitted with the reason where bpf(2) is unavailable.
            """
    )

    @Option(name: .customLong("repeat"), help: "Runs per measurement.") var runs: Int = 2000
    @Option(help: "Measurements per engine; the best is reported.") var rounds: Int = 5

    func run() throws {
        let instructions = try Assembler.assemble(BenchmarkPrograms.alu)
        let packet = BenchmarkPrograms.packet
        // An xdp_md as the program reads it: data at offset 0, data_end at offset 4.
        var context = [UInt32](repeating: 0, count: 6)
        context[1] = UInt32(packet.count)

        let interpreter = try Interpreter(instructions)
        var rows: [(String, Double, UInt64)] = []
        for (name, mode) in [("interpreter", ExecutionMode.fast), ("checked", .checked(instructionLimit: .max))] {
            var best = Double.infinity
            var r0: UInt64 = 0
            for _ in 0..<rounds {
                let start = monotonicNanoseconds()
                try context.withUnsafeMutableBytes { ctx in
                    let regions = [MemoryRegion(ctx, writable: false)]
                    for _ in 0..<runs {
                        r0 = try interpreter.run(UInt64(UInt(bitPattern: ctx.baseAddress)), mode: mode, regions: regions)
                    }
                }
                best = min(best, Double(monotonicNanoseconds() - start) / Double(runs))
            }
            rows.append((name, best, r0))
        }

        var kernelNs: Double?
        var kernelNote = ""
        if let reason = KernelSupport.unavailableReason {
            kernelNote = "kernel JIT: skipped: \(reason)"
        } else {
            let program = try KernelProgram(type: .xdp, instructions: instructions, name: "bench_alu")
            var best = Double.infinity
            for _ in 0..<rounds {
                let run = try program.testRun(data: packet, repeat: UInt32(runs))
                best = min(best, Double(run.nanosecondsPerRun))
                if UInt64(run.returnValue) != rows[0].2 {
                    throw CLIError("alu: the kernel returned \(run.returnValue), the interpreter \(rows[0].2)")
                }
            }
            kernelNs = best
        }

        print("program  engine        ns/run      vs kernel JIT   r0")
        for (engine, ns, r0) in rows {
            let ratio = kernelNs.map { String(format1(ns / $0)) + "x" } ?? "-"
            print("alu      \(pad(engine, 12))  \(pad(format1(ns), 10))  \(pad(ratio, 14))  \(r0)")
        }
        if let kernelNs {
            print("alu      \(pad("kernel JIT", 12))  \(pad(format1(kernelNs), 10))  \(pad("1.0x", 14))  \(rows[0].2)")
        } else {
            print(kernelNote)
        }
    }
}

func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func format1(_ v: Double) -> String {
    let scaled = (v * 10).rounded()
    return "\(Int(scaled) / 10).\(abs(Int(scaled)) % 10)"
}

func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }

import BPFBenchmarks
import BPFCore
import BPFKernel
import BPFObject
import BPFPlatform
import BPFRuntime
import BPFVM
import SwiftBPFProbes

extension Benchmark {
    /// The cost of one hit of the probe site `swiftbpf:bench` (in this process, SwiftBPFProbes'),
    /// with nothing tracing it, with a counter program in process (JIT, interpreter), and with
    /// the same program on the kernel's uprobe; and a program reading both arguments through
    /// `usdt.bpf.h` on the JIT and in the kernel. Every count is checked.
    func benchProbes(kernelReason: String?) throws {
        guard BPFCompiler.unavailableReason == nil else {
            output("probes: skipped: no clang to compile the programs")
            return
        }
        let source = """
            #include <linux/bpf.h>
            #include <linux/ptrace.h>
            #include <stdbool.h>
            #include <bpf/bpf_helpers.h>
            #include <bpf/usdt.bpf.h>
            struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } hits SEC(".maps");
            SEC("usdt") int count_hits(struct pt_regs *ctx) {
                __u32 zero = 0;
                __u64 *n = bpf_map_lookup_elem(&hits, &zero);
                if (n) __sync_fetch_and_add(n, 1);
                return 0;
            }
            SEC("usdt") int BPF_USDT(sum_arguments, long a, long b) {
                __u32 zero = 0;
                __u64 *n = bpf_map_lookup_elem(&hits, &zero);
                if (n) __sync_fetch_and_add(n, a + b);
                return 0;
            }
            char LICENSE[] SEC("license") = "GPL";
            """
        let bytes = try BPFCompiler.compile(text: source, name: "probe_counter.bpf.c")
        let site = swiftbpf_bench_probe_site()!
        let runtime = UserspaceRuntime.shared
        let hook = try runtime.hook(named: "swiftbpf:bench") ?? runtime.declareProbe(site, arguments: [.value, .value])
        let hits = 2_000_000, kernelHits = 200_000

        /// Mean ns per hit over `count` hits, best of rounds; `check` sees the counter's growth.
        func perHit(_ count: Int, counter: (() throws -> UInt64)? = nil, expect perRound: UInt64? = nil) throws -> Double {
            try best {
                let before = try counter?() ?? 0
                let start = monotonicNanoseconds()
                for i in 0..<count { swiftbpf_bench_probe(UInt64(i & 1), 1) }
                let elapsed = Double(monotonicNanoseconds() - start) / Double(count)
                if let counter, let perRound, try counter() - before != perRound {
                    throw BenchmarkError.mismatch("probes: counted \(try counter() - before) for \(count) hits")
                }
                return elapsed
            }
        }

        let disabled = try perHit(hits * 5)
        let swiftHook = try runtime.hook(named: "swiftbpf:bench:swift") ?? runtime.declareHook("swiftbpf:bench:swift", arguments: [.value])
        let disabledSwift = best {
            let start = monotonicNanoseconds()
            for i in 0..<hits * 5 { swiftHook.fire(UInt64(i)) }
            return Double(monotonicNanoseconds() - start) / Double(hits * 5)
        }

        let ours = try UserspaceObject(ObjectFile(bytes: bytes))
        let counter = { littleEndian(try ours.map(named: "hits")?.lookup([0, 0, 0, 0]) ?? []) }
        var inProcess: [String: Double] = [:]
        for (label, program, mode) in [
            ("jit", "count_hits", ExecutionMode.jit), ("interpreter", "count_hits", .fast), ("jit arguments", "sum_arguments", .jit),
        ] {
            let link = try runtime.attach(try ours.load(program: program), to: hook, mode: mode)
            // Hits alternate arguments (0, 1) and (1, 1): the sum is 3 per two hits.
            inProcess[label] = try perHit(hits, counter: counter, expect: program == "count_hits" ? UInt64(hits) : UInt64(hits / 2 * 3))
            link.detach()
        }
        var line =
            "probe swiftbpf:bench, ns per hit: disabled \(format2(disabled)) (a Swift hook.fire \(format2(disabledSwift))), "
            + "in process: counter JIT \(format1(inProcess["jit"]!)), interpreter \(format1(inProcess["interpreter"]!)), "
            + "reading both arguments (usdt.bpf.h) JIT \(format1(inProcess["jit arguments"]!))"
        if let kernelReason {
            line += "; kernel uprobe: skipped: \(kernelReason)"
        } else {
            let kernel = try KernelObject(try ObjectFile(bytes: bytes))
            let kernelCounter = { littleEndian(try kernel.map(named: "hits")?.lookup([0, 0, 0, 0]) ?? []) }
            var uprobe: [String: Double] = [:]
            for program in ["count_hits", "sum_arguments"] {
                guard let executable = currentExecutable else { throw BenchmarkError.failed("cannot read /proc/self/exe") }
                let link = try USDTLink(try kernel.load(program: program), binary: executable, provider: "swiftbpf", name: "bench")
                uprobe[program] = try perHit(
                    kernelHits, counter: kernelCounter, expect: program == "count_hits" ? UInt64(kernelHits) : UInt64(kernelHits / 2 * 3))
                withExtendedLifetime(link) {}
            }
            let jit = inProcess["jit"]!, kernelCount = uprobe["count_hits"]!
            line +=
                "; kernel uprobe: counter \(format1(kernelCount)), reading both arguments \(format1(uprobe["sum_arguments"]!)); "
                + "kernel/in-process JIT \(format1(kernelCount / jit))x (counter), \(format1(uprobe["sum_arguments"]! / inProcess["jit arguments"]!))x (arguments)"
        }
        output(line)
    }
}

import BPFBenchmarks
import BPFCore
import BPFKernel
import BTF
import BPFObject
import BPFPlatform

extension Benchmark {
    /// Time to load each object into the kernel — its maps created, every program loaded —
    /// ours beside libbpf's and `bpftool prog loadall`'s on the same object, best of `rounds`
    /// (of at least 20 for the processes).
    /// The libraries are timed in-process (ours here, libbpf's `bpf_object__open_file` and
    /// `bpf_object__load` in a small C program), which is the fair comparison; both tools also
    /// run as the processes users start, doing the same work — load, then pin every program and
    /// map, attaching nothing (`swiftbpf load OBJ --kernel --no-attach --pin DIR` against
    /// `bpftool prog loadall OBJ DIR pinmaps DIR/maps`) — each paying its own start-up, with
    /// both tools' bare start-up (`bpftool version`, `swiftbpf --help`) for scale.
    func benchLoading() throws {
        guard let bpftool = executablePath("bpftool") else {
            output("loading: skipped: bpftool is not installed")
            return
        }
        guard BPFCompiler.unavailableReason == nil else {
            output("loading: skipped: no clang to compile the objects")
            return
        }
        let ourTool = CommandLine.arguments[0]
        let pins = Pinning.root + "/swiftbpf-bench-\(getpid())"
        func wallMilliseconds(_ arguments: [String]) throws -> Double {
            removeTree(pins)
            mkdir(pins, 0o700)
            defer { removeTree(pins) }
            let start = monotonicNanoseconds()
            let status = try ChildProcess(arguments[0], Array(arguments.dropFirst()), captureOutput: false, captureErrors: false).wait()
            let elapsed = Double(monotonicNanoseconds() - start) / 1e6
            guard status == 0 else { throw BenchmarkError.failed("\(arguments.joined(separator: " ")) failed") }
            return elapsed
        }
        // A process's few milliseconds vary by a few percent from run to run: at least 20 rounds.
        let processRounds = max(rounds, 20)
        var startup = Double.infinity, ourStartup = Double.infinity
        for _ in 0..<processRounds {
            startup = min(startup, try wallMilliseconds([bpftool, "version"]))
            ourStartup = min(ourStartup, try wallMilliseconds([ourTool, "--help"]))
        }
        let libbpf = try libbpfPeer("libbpf_load", source: LibbpfPeers.load, output: output)
        defer { if let libbpf { removeTree(libbpf) } }

        output(
            "loading    ours (library) ms   libbpf (library) ms   ours/libbpf   bpftool loadall less start-up ms   swiftbpf load process ms   bpftool loadall process ms"
        )
        for (name, bytes) in try compiledBenchObjects() {
            let path = temporaryDirectory + "/swiftbpf-bench-\(name).o"
            guard writeFile(path, bytes) else { throw BenchmarkError.failed("cannot write \(path)") }
            defer { unlink(path) }
            let library = try best {
                let start = monotonicNanoseconds()
                let object = try ObjectFile(bytes: bytes)
                let loaded = try KernelObject(object)
                let programs = try object.programs.map { try loaded.load(program: $0.name, target: object.usesCORE ? BTF.vmlinux : nil) }
                let elapsed = Double(monotonicNanoseconds() - start) / 1e6
                withExtendedLifetime(programs) {}
                return elapsed
            }
            // Alternated, so that both tools see the same machine: best of `processRounds` each.
            var ours = Double.infinity, theirs = Double.infinity
            for _ in 0..<processRounds {
                ours = min(ours, try wallMilliseconds([ourTool, "load", path, "--kernel", "--no-attach", "--pin", pins]))
                theirs = min(theirs, try wallMilliseconds([bpftool, "prog", "loadall", path, pins, "pinmaps", pins + "/maps"]))
            }
            let theirLoad = max(theirs - startup, 0.001)
            var libbpfColumns = pad("-", 21) + " " + pad("-", 13)
            if let libbpf, let output = referenceToolOutput(libbpf, [path, String(rounds)]), let nanoseconds = Double(output.filter { !$0.isWhitespace }) {
                libbpfColumns = pad(format2(nanoseconds / 1e6), 21) + " " + pad(format2(library / (nanoseconds / 1e6)) + "x", 13)
            }
            output(
                pad(name, 10) + " " + pad(format2(library), 19) + " " + libbpfColumns + " " + pad(format2(theirLoad), 33) + " "
                    + pad(format2(ours), 26) + " " + format2(theirs))
        }
        output(
            "(start-up: bpftool version \(format2(startup)) ms, swiftbpf --help \(format2(ourStartup)) ms; the process columns include each tool's start-up)")
    }
}

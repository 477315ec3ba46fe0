import BPFBenchmarks
import BPFCore
import BPFKernel
import BPFObject
import BPFPlatform
import BPFRuntime
import BPFVM

/// The benchmark suite: the bench folder's programs on each engine beside the kernel JIT, our
/// verifier beside the kernel's, loading beside libbpf and bpftool, ring buffer consumers beside
/// libbpf's — every figure printed beside its peer's from the same run.
public struct Benchmark: Sendable {
    /// The parts of the suite.
    public enum Part: String, Sendable, CaseIterable {
        case engines, verifier, loading, ringbuf, filters, probes
    }

    /// Runs per measurement.
    public var runs: Int
    /// Measurements per engine; the best is reported.
    public var rounds: Int
    /// The folder of benchmark C programs (`../shared/bench`).
    public var benchDir: String
    /// Where the tables go, a line at a time.
    public var output: @Sendable (String) -> Void

    public init(runs: Int = 1000, rounds: Int = 5, benchDir: String, output: @escaping @Sendable (String) -> Void = { print($0) }) {
        self.runs = runs
        self.rounds = rounds
        self.benchDir = benchDir
        self.output = output
    }

    private struct Row {
        var name: String
        var packetBytes: Int
        var interpreter: Double
        var checked: Double
        var jit: Double?
        /// The JIT's compile time on this host (best of several), for x86-64 and for arm64.
        var compileMicroseconds: Double?
        var arm64CompileMicroseconds: Double?
        var kernel: Double?
        var ours: UInt32
        var kernelResult: UInt32?
    }

    /// Runs `part` (nil: all of them), printing each table through ``output``.
    /// - Throws: ``BenchmarkError``: a part that needs `bpf(2)` where it is unavailable, a
    ///   program whose result differs between engines, a peer that failed.
    public func run(only part: Part? = nil) throws(BenchmarkError) {
        do { try runParts(part) } catch let error as BenchmarkError { throw error } catch { throw .failed(String(describing: error)) }
    }

    private func runParts(_ part: Part?) throws {
        let kernelReason = KernelSupport.unavailableReason
        switch part {
        case nil: break
        case .engines?: return try benchEngines(kernelReason: kernelReason)
        case .verifier?: return try benchVerifier(kernel: kernelReason == nil)
        case .filters?: return try benchFilters(kernel: kernelReason == nil)
        case .probes?: return try benchProbes(kernelReason: kernelReason)
        case .loading?, .ringbuf?:
            if let kernelReason { throw BenchmarkError.unavailable("\(part!.rawValue): \(kernelReason)") }
            return part == .loading ? try benchLoading() : try benchRingBuffers()
        }
        try benchEngines(kernelReason: kernelReason)
        output("")
        try benchVerifier(kernel: kernelReason == nil)
        output("")
        try benchFilters(kernel: kernelReason == nil)
        output("")
        try benchProbes(kernelReason: kernelReason)
        if kernelReason == nil {
            output("")
            try benchLoading()
            output("")
            try benchRingBuffers()
        }
    }

    private func benchRingBuffers() throws {
        try benchRingBuffer(records: 1 << 16, ringShift: 21)  // fits in cache
        try benchRingBuffer(records: 1 << 20, ringShift: 25)  // does not
        try benchRingBufferLive(events: 1_000_000)
    }

    /// Each bench program on each engine beside the kernel JIT, as a table.
    private func benchEngines(kernelReason: String?) throws {
        let packet = BenchmarkPrograms.packet
        let padded = packet + [UInt8](repeating: 0, count: 1500 - packet.count)
        var rows: [Row] = []
        var notes: [String] = []
        if let reason = kernelReason { notes.append("kernel JIT: skipped: \(reason)") }

        if let reason = BPFCompiler.unavailableReason ?? (access(benchDir + "/alu.bpf.c", R_OK) == 0 ? nil : "\(benchDir) has no alu.bpf.c") {
            notes.append("objects: skipped (\(reason)); timing the hand-written alu program instead")
            rows.append(try handWrittenAlu(packet, kernel: kernelReason == nil))
        } else {
            for (name, data) in [("alu", packet), ("checksum", padded), ("flow", packet), ("maps", packet)] {
                let object = try ObjectFile(bytes: try BPFCompiler.compile(benchDir + "/\(name).bpf.c"))
                let ours = try UserspaceObject(object).load()
                var row = Row(
                    name: name, packetBytes: data.count, interpreter: .infinity, checked: .infinity,
                    ours: try ours.testRun(data: data).returnValue)
                row.interpreter = try best { try ours.testRun(data: data, repeat: runs, mode: .fast).nanosecondsPerRun }
                row.checked = try best { try ours.testRun(data: data, repeat: runs, mode: .checked()).nanosecondsPerRun }
                row.compileMicroseconds = try bestCompile(ours, .x86_64)
                row.arm64CompileMicroseconds = try bestCompile(ours, .arm64)
                if ours.jit != nil {
                    let result = try ours.testRun(data: data, mode: .jit).returnValue
                    if result != row.ours { throw BenchmarkError.mismatch("\(name): the JIT returned \(result), the interpreter \(row.ours)") }
                    row.jit = try best { try ours.testRun(data: data, repeat: runs, mode: .jit).nanosecondsPerRun }
                }
                if kernelReason == nil {
                    let kernel = try KernelObject(object).load()
                    row.kernelResult = try kernel.testRun(data: data).returnValue
                    row.kernel = try best { try kernel.testRun(data: data, repeat: UInt32(runs)).nanosecondsPerRun }
                }
                rows.append(row)
            }
        }

        output(
            "ns/run     packet  interpreter  checked  our JIT  kernel JIT  interpreter/kernel  our JIT/kernel  compile x86-64  compile arm64  r0 ours/kernel")
        for r in rows {
            func ratio(_ ours: Double?) -> String {
                guard let ours, let kernel = r.kernel else { return "-" }
                return format2(ours / kernel) + "x"
            }
            let results = "\(r.ours)/" + (r.kernelResult.map(String.init) ?? "-")
            output(
                pad(r.name, 10) + " " + pad("\(r.packetBytes) B", 7) + " " + pad(format1(r.interpreter), 12) + " "
                    + pad(format1(r.checked), 8) + " " + pad(r.jit.map(format1) ?? "-", 8) + " " + pad(r.kernel.map(format1) ?? "-", 11) + " "
                    + pad(ratio(r.interpreter), 19) + " " + pad(ratio(r.jit), 15) + " "
                    + pad(r.compileMicroseconds.map { format1($0) + " µs" } ?? "-", 15) + " "
                    + pad(r.arm64CompileMicroseconds.map { format1($0) + " µs" } ?? "-", 14) + " " + results)
        }
        if !JITProgram.isSupported { notes.append("our JIT: skipped: the JIT compiles to x86-64 and arm64, and this host is neither") }
        notes.append(
            "compile: the JIT's time to decode, select and encode a program (best of \(rounds * 10); mapping the code executable is not counted), for each backend, measured on this host: the arm64 column is the arm64 backend compiling here, not code run on arm64"
        )
        for note in notes { output(note) }
        if rows.contains(where: { $0.kernelResult != nil && $0.kernelResult != $0.ours }) {
            throw BenchmarkError.mismatch("a program returned something other than the kernel's result")
        }
    }

    /// The best time, in µs, of compiling `program` for `architecture`.
    private func bestCompile(_ program: UserspaceProgram, _ architecture: NativeCode.Architecture) throws -> Double {
        var best = Double.infinity
        for _ in 0..<rounds * 10 {
            let start = monotonicNanoseconds()
            _ = try program.nativeCode(for: architecture)
            best = min(best, Double(monotonicNanoseconds() - start) / 1000)
        }
        return best
    }

    /// The alu workload from ``BenchmarkPrograms/alu``, for machines without clang.
    private func handWrittenAlu(_ packet: [UInt8], kernel: Bool) throws -> Row {
        let code = try Assembler.assemble(BenchmarkPrograms.alu)
        let interpreter = try Interpreter(code)
        var context = [UInt32](repeating: 0, count: 6)
        context[1] = UInt32(packet.count)
        var row = Row(name: "alu", packetBytes: packet.count, interpreter: .infinity, checked: .infinity, ours: 0)
        let jit = JITProgram.isSupported ? try JITProgram(code) : nil
        row.compileMicroseconds = jit.map { $0.compileNanoseconds / 1000 }
        try context.withUnsafeMutableBytes { ctx in
            let regions = [MemoryRegion(ctx, writable: false)]
            let address = UInt64(UInt(bitPattern: ctx.baseAddress))
            row.ours = UInt32(truncatingIfNeeded: try interpreter.run(address, mode: .fast, regions: regions))
            row.interpreter = try best { try meanNanoseconds { _ = try interpreter.run(address, mode: .fast, regions: regions) } }
            row.checked = try best { try meanNanoseconds { _ = try interpreter.run(address, mode: .checked(instructionLimit: .max), regions: regions) } }
            if let jit { row.jit = try best { try meanNanoseconds { _ = try jit.run(address) } } }
        }
        if kernel {
            let program = try KernelProgram(type: .xdp, instructions: code, name: "bench_alu")
            row.kernelResult = try program.testRun(data: packet).returnValue
            row.kernel = try best { try program.testRun(data: packet, repeat: UInt32(runs)).nanosecondsPerRun }
        }
        return row
    }

    /// The bench folder's four programs (those present) and the exec monitor, compiled with
    /// clang: what the verifier and loading benches time.
    func compiledBenchObjects() throws -> [(name: String, bytes: [UInt8])] {
        var objects: [(name: String, bytes: [UInt8])] = []
        for name in ["alu", "checksum", "flow", "maps"] where access(benchDir + "/\(name).bpf.c", R_OK) == 0 {
            objects.append((name, try BPFCompiler.compile(benchDir + "/\(name).bpf.c")))
        }
        return objects + [("exec", try ExecMonitor.compile())]
    }

    /// The lowest of `rounds` measurements.
    func best(_ measure: () throws -> Double) rethrows -> Double {
        var lowest = Double.infinity
        for _ in 0..<rounds { lowest = min(lowest, try measure()) }
        return lowest
    }

    /// Mean nanoseconds per call of `body` over `runs` calls.
    func meanNanoseconds(_ body: () throws -> Void) rethrows -> Double {
        let start = monotonicNanoseconds()
        for _ in 0..<runs { try body() }
        return Double(monotonicNanoseconds() - start) / Double(runs)
    }
}

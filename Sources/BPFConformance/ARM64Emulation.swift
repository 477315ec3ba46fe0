import BPFCore
import BPFVM
import BPFPlatform

/// Runs code of the arm64 JIT on this machine: natively on an AArch64 host, under user-mode
/// QEMU (`qemu-aarch64`) elsewhere, through the small runner `scripts/arm64-runner.c` (built by
/// `scripts/test-arm64`), which maps each program W^X and calls it as the JIT's entry point.
package enum ARM64Emulation {
    /// What one program did: r0, the run's error kind (``JITRuntimeBlock``'s; 0 for none), and
    /// its memory afterwards.
    package struct Outcome: Equatable, Sendable {
        package var r0: UInt64
        package var errorKind: Int
        package var memory: [UInt8]
    }

    /// Why programs could not be run.
    package struct Failure: Error, CustomStringConvertible {
        package var description: String
    }

    /// The runner named by `SWIFTBPF_ARM64_RUNNER`, when that is set and executable.
    package static var configuredRunner: String? {
        guard let path = getenv("SWIFTBPF_ARM64_RUNNER").map({ String(cString: $0) }), access(path, X_OK) == 0 else { return nil }
        return path
    }

    /// `qemu-aarch64` on the path's usual places, or nil.
    package static var qemu: String? {
        ["/usr/bin/qemu-aarch64", "/usr/bin/qemu-aarch64-static", "/usr/local/bin/qemu-aarch64"].first { access($0, X_OK) == 0 }
    }

    /// Where ``run(_:helpers:runner:memoryAddress:)`` can place programs' memory in both this
    /// process and the runner's: programs that compute with its address (as random ones do)
    /// then give the same results in both.
    package static let fixedMemoryAddress: UInt64 = 0x10_0000_0000

    /// Runs `programs` (code and memory each) in one runner process, in order; `helpers` are
    /// the ids whose table entries are set (any others are unknown to `callx`); memory goes at
    /// `memoryAddress` when given (a megabyte is mapped there), else wherever malloc puts it.
    package static func run(
        _ programs: [(code: [UInt8], memory: [UInt8])], helpers: Set<Int32>, runner: String, memoryAddress: UInt64? = nil
    ) throws(Failure) -> [Outcome] {
        var batch: [UInt8] = []
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { batch += $0 } }
        u32(programs.count)
        withUnsafeBytes(of: (memoryAddress ?? 0).littleEndian) { batch += $0 }
        var bitmap = [UInt8](repeating: 0, count: 32)
        for id in helpers where id >= 0 && id < 256 { bitmap[Int(id) / 8] |= 1 << UInt8(id % 8) }
        batch += bitmap
        for (code, memory) in programs {
            u32(code.count)
            u32(memory.count)
            batch += code + memory
        }
        let path = "/tmp/swiftbpf-arm64-batch-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0, batch.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == batch.count else {
            throw Failure(description: "\(path): cannot write the batch")
        }
        close(fd)
        defer { unlink(path) }
        #if arch(arm64)
        let (tool, arguments) = (runner, [path])
        #else
        guard let qemu else { throw Failure(description: "qemu-aarch64 is not installed (Debian: apt-get install qemu-user)") }
        let (tool, arguments) = (qemu, [runner, path])
        #endif
        let result: (status: Int32, output: String, errors: String)
        do { result = try ChildProcess(tool, arguments).finish() } catch { throw Failure(description: "\(error)") }
        guard result.status == 0 else { throw Failure(description: "the runner exited \(result.status): \(result.errors)") }
        let lines = result.output.split(separator: "\n")
        guard lines.count == programs.count else {
            throw Failure(description: "the runner answered for \(lines.count) of \(programs.count) programs (a crash after the last?): \(result.errors)")
        }
        return try lines.map { (line) throws(Failure) -> Outcome in
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 3, let r0 = UInt64(fields[0], radix: 16), let kind = Int(fields[1]) else {
                throw Failure(description: "the runner's line '\(line)' is not 'r0 kind memory'")
            }
            let hex = Array(fields[2].utf8)
            let memory = stride(from: 0, to: hex.count - 1, by: 2).compactMap { UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16) }
            return Outcome(r0: r0, errorKind: kind, memory: memory)
        }
    }

    /// Every conformance file in `files` compiled for arm64 (with LSE atomics or without) and run:
    /// the verdict on each, as ``ConformanceRunner`` gives them for the other engines.
    package static func conformance(_ files: [String], runner: String, largeSystemExtensions: Bool, blind: Bool = false) throws(Failure) -> [(
        path: String, outcome: ConformanceRunner.Outcome
    )] {
        var verdicts: [(String, ConformanceRunner.Outcome)] = []
        var pending: [(path: String, file: ConformanceFile, index: Int)] = []
        var jobs: [(code: [UInt8], memory: [UInt8])] = []
        for path in files {
            guard let text = readTextFile(path) else {
                verdicts.append((path, .failed("cannot read the file")))
                continue
            }
            let file: ConformanceFile
            do { file = try ConformanceFile(text: text) } catch {
                verdicts.append((path, .failed(error.description)))
                continue
            }
            do {
                let program = try DecodedProgram(file.instructions, helpers: .standard)
                let code = try NativeCode(program, for: .arm64, options: .init(blindConstants: blind), largeSystemExtensions: largeSystemExtensions)
                pending.append((path, file, verdicts.count))
                verdicts.append((path, .passed))
                jobs.append((code.bytes, file.memory))
            } catch {
                verdicts.append((path, file.expectedError != nil ? .passed : .failed("rejected: \(error)")))
            }
        }
        let helpers = Set((0..<Int32(HelperTable.capacity)).filter { HelperTable.standard.contains($0) })
        let outcomes = try run(jobs, helpers: helpers, runner: runner)
        for (job, outcome) in zip(pending, outcomes) {
            let file = job.file
            let failedAtRunTime = outcome.errorKind == 1 || outcome.errorKind == 2
            let verdict: ConformanceRunner.Outcome
            if let expected = file.expectedError {
                verdict = failedAtRunTime ? .passed : .failed("expected error '\(expected)', got r0 = 0x\(String(outcome.r0, radix: 16))")
            } else if failedAtRunTime {
                verdict = .failed("run-time error (kind \(outcome.errorKind))")
            } else if outcome.r0 != file.expectedResult {
                verdict = .failed("expected r0 = 0x\(String(file.expectedResult ?? 0, radix: 16)), got 0x\(String(outcome.r0, radix: 16))")
            } else {
                verdict = .passed
            }
            verdicts[job.index].1 = verdict
        }
        return verdicts
    }
}

import BPFPlatform
import BPFBenchmarks
import BPFConformance
import BPFCore
import BPFKernel
import BPFTestSupport
import BPFVM
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let testsDirectory = SharedFixtures.path("conformance/tests")

private let packet = BenchmarkPrograms.packet

@Suite("Differential tests against the Linux kernel")
struct KernelDifferentialTests {
    /// Conformance programs that need no input memory, loaded into the kernel as XDP programs.
    /// Wherever the kernel's verifier accepts one, its BPF_PROG_TEST_RUN result (r0's low 32
    /// bits) must equal ours, on the interpreter in both modes and on the JIT.
    @Test(
        "conformance programs give the kernel's results",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: testsDirectory != nil, "../shared/conformance is absent"))
    func conformanceAgainstKernel() throws {
        var compared = 0, rejected: [String] = []
        for path in ConformanceRunner.files(in: testsDirectory!) ?? [] {
            let text = try #require(readTextFile(path))
            let file = try ConformanceFile(text: text)
            guard file.memory.isEmpty, file.expectedResult != nil else { continue }
            let kernel: KernelProgram
            do { kernel = try KernelProgram(type: .xdp, instructions: file.instructions) } catch {
                rejected.append(path)
                continue
            }
            let expected = try kernel.testRun(data: packet).returnValue
            for mode in [ExecutionMode.fast, .checked()] {
                let ours = try Interpreter(file.instructions).run(mode: mode)
                #expect(UInt32(truncatingIfNeeded: ours) == expected, "\(path): kernel r0 = \(expected), ours = \(ours)")
            }
            if JITProgram.isSupported {
                let native = try JITProgram(file.instructions).run()
                #expect(UInt32(truncatingIfNeeded: native) == expected, "\(path): kernel r0 = \(expected), our JIT = \(native)")
            }
            compared += 1
        }
        print("kernel differential: compared \(compared), kernel rejected \(rejected.count): \(rejected.map { $0.split(separator: "/").last! })")
        // Most of the suite is plain ALU and jump code the kernel accepts; if it suddenly
        // accepted almost nothing the comparison would be hollow.
        #expect(compared >= 150, "only \(compared) programs were compared; kernel rejected \(rejected.count)")
    }

    @Test(
        "the alu benchmark program returns the kernel's verdict",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")))
    func aluBenchmark() throws {
        let code = try Assembler.assemble(BenchmarkPrograms.alu)
        for length in [14, 54, 60, 1500] {
            var data = packet
            data += Array(repeating: 0, count: max(0, length - data.count))
            data = Array(data.prefix(length))
            let kernel = try KernelProgram(type: .xdp, instructions: code).testRun(data: data).returnValue
            var context: [UInt32] = [0, UInt32(length), 0, 0, 0, 0]
            let ours = try context.withUnsafeMutableBytes { try Interpreter(code).run(memory: $0, mode: .checked()) }
            #expect(UInt64(kernel) == ours, "packet of \(length) bytes")
        }
    }

    @Test(
        "a program the kernel rejects comes back with the verifier's log",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")))
    func rejectionLog() throws {
        let code = try Assembler.assemble("ldxdw %r0, [%r2+0]\nexit")  // r2 is uninitialized
        #expect {
            _ = try KernelProgram(type: .xdp, instructions: code)
        } throws: { error in
            guard let error = error as? KernelError else { return false }
            return error.errno == .EACCES && (error.log ?? "").contains("R2 !read_ok")
        }
    }
}

@Suite("The disassembler against the kernel's own printer")
struct DisassemblerAgainstKernelTests {
    /// The verifier's log at level 2 prints every instruction it processes as
    /// `N: (op) text`. For every conformance program the kernel accepts, our disassembly of each
    /// instruction the kernel printed must be the kernel's text.
    @Test(
        "our disassembly is the kernel verifier log's text",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: testsDirectory != nil, "../shared/conformance is absent"))
    func disassemblyMatchesKernel() throws {
        var compared = 0
        for path in ConformanceRunner.files(in: testsDirectory!) ?? [] {
            let file = try ConformanceFile(text: try #require(readTextFile(path)))
            guard file.memory.isEmpty,
                let program = try? KernelProgram(type: .xdp, instructions: file.instructions, logLevel: 2)
            else { continue }
            for line in program.verifierLog.split(separator: "\n") {
                // "12: (bf) r1 = r2         ; R1_w=..." — the index, the opcode, the text.
                guard let colon = line.firstIndex(of: ":"), let index = Int(line[..<colon]),
                    line[colon...].hasPrefix(": ("), index < file.instructions.count
                else { continue }
                // The text ends where the verifier's state annotation (" ; R1_w=...") begins.
                let text = line[line.index(colon, offsetBy: 7)...].split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
                let kernelText = String(text).trimmingCharacters(in: " ")
                let insn = file.instructions[index]
                let next = insn.isWide ? file.instructions[index + 1] : nil
                #expect(Disassembler.text(insn, next: next) == kernelText, "\(path) instruction \(index)")
                compared += 1
            }
        }
        print("disassembler vs kernel: \(compared) instructions compared")
        #expect(compared > 1000)
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        String(drop(while: { $0 == set }).reversed().drop(while: { $0 == set }).reversed())
    }
}

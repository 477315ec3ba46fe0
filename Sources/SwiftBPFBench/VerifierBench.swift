import BPFBenchmarks
import BPFCore
import BPFKernel
import BPFObject
import BPFPlatform
import BPFRuntime
import BPFVerifier
import BTF

extension Benchmark {
    /// Verification time of each program, ours beside the kernel's own (`verification time` in
    /// its log at level 4, BPF_LOG_STATS), best of `rounds`: the four bench objects, the exec
    /// monitor, and a generated 100,000-instruction program with 5,000 branches.
    func benchVerifier(kernel: Bool) throws {
        var programs: [(name: String, ours: () throws -> VerifierReport, kernel: (() throws -> KernelProgram)?)] = []
        if BPFCompiler.unavailableReason == nil {
            for source in try compiledBenchObjects() {
                let object = try ObjectFile(bytes: source.bytes)
                let userspace = try UserspaceObject(object)
                programs.append(
                    (
                        source.name, { try userspace.verify(target: BTF.vmlinux) },
                        kernel ? { try KernelObject(object).load(target: BTF.vmlinux, logLevel: 4) } : nil
                    ))
            }
        }
        let generated = Self.branchyProgram(instructions: 100_000)
        programs.append(
            (
                "100k", { try Verifier.verify(generated, Verifier.Configuration(programType: .xdp)) },
                kernel ? { try KernelProgram(type: .xdp, instructions: generated, logLevel: 4) } : nil
            ))

        output("verifier   insns processed ours/kernel   states ours/kernel   ours ms   kernel ms   ours/kernel")
        for program in programs {
            var processed = 0, states = 0
            let ours = try best {
                let report = try program.ours()
                (processed, states) = (report.processedInstructions, report.totalStates)
                return Double(report.nanoseconds) / 1e6
            }
            var kernelMilliseconds: Double?, kernelInstructions = "-", kernelStates = "-"
            if let load = program.kernel {
                kernelMilliseconds = try best {
                    let log = try load().verifierLog
                    kernelInstructions = Self.number(after: "processed ", in: log).map(String.init) ?? "?"
                    kernelStates = Self.number(after: "total_states ", in: log).map(String.init) ?? "?"
                    return Double(Self.number(after: "verification time ", in: log) ?? 0) / 1000
                }
            }
            output(
                pad(program.name, 10) + " " + pad("\(processed)/\(kernelInstructions)", 30) + " "
                    + pad("\(states)/\(kernelStates)", 20) + " " + pad(format2(ours), 9) + " "
                    + pad(kernelMilliseconds.map(format2) ?? "-", 11) + " " + (kernelMilliseconds.map { format2(ours / $0) + "x" } ?? "-"))
        }
        if !kernel { output("kernel verifier: skipped (bpf(2) not available)") }
    }

    /// Blocks of twenty instructions, each a branch on a context field over an instruction that
    /// sets a register nothing reads, then arithmetic: 2^5,000 paths that pruning makes linear.
    static func branchyProgram(instructions count: Int) -> [Instruction] {
        var code = [Instruction(opcode: 0x61, dst: 7, src: 1, offset: 16), Instruction(opcode: 0xb7, dst: 0)]
        var n: Int32 = 0
        while code.count < count - 1 {
            code.append(Instruction(opcode: 0x61, dst: 6, src: 1, offset: 12))
            code.append(Instruction(opcode: 0x25, dst: 6, offset: 1, imm: n % 97))
            code.append(Instruction(opcode: 0xb7, dst: 8, imm: n))
            for _ in 0..<5 {
                code.append(Instruction(opcode: 0x07, dst: 7, imm: 3))
                code.append(Instruction(opcode: 0x57, dst: 7, imm: 1023))
                code.append(Instruction(opcode: 0xaf, dst: 0, src: 7))
            }
            code.append(Instruction(opcode: 0xbf, dst: 9, src: 7))
            code.append(Instruction(opcode: 0x27, dst: 9, imm: 5))
            n += 1
        }
        code.append(Instruction(opcode: 0x95))
        return code
    }

    /// The decimal number after `label` in `text`.
    static func number(after label: String, in text: String) -> Int? {
        guard let range = text.firstRange(of: label) else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }
}

import BPFCore

/// Runs generated programs through our verifier and an oracle (the running kernel's), counts
/// where they agree, and shrinks each program accepted only by us to a minimal one.
package struct DifferentialFuzzer {
    /// The kernel's verdict on a program.
    package typealias Oracle = (FuzzProgram) -> Verdict

    package struct Disagreement: Sendable {
        package var program: FuzzProgram
        package var kernel: String
        package var seed: UInt64
        package var index: Int
    }

    package struct Summary: Sendable {
        package var programs = 0
        package var bothAccept = 0, bothRefuse = 0, onlyUs = 0, onlyKernel = 0, notJudged = 0
        /// Programs accepted only by us, minimized.
        package var acceptedOnlyByUs: [Disagreement] = []
        /// Programs refused only by us, by our refusal's kind.
        package var refusedOnlyByUs: [String: Int] = [:]
        /// The kernel's refusals by kind, and ours: which rules the programs reached.
        package var kernelRefusals: [String: Int] = [:]
        package var ourRefusals: [String: Int] = [:]
        /// How many programs used each gadget.
        package var gadgets: [Gadget: Int] = [:]
        package var notJudgedReasons: [String: Int] = [:]
        package var notJudgedExamples: [FuzzProgram] = []

        /// `N programs: A both accept, B both refuse, C accepted only by us, D refused only by us`.
        package var line: String {
            "\(programs) programs: \(bothAccept) both accept, \(bothRefuse) both refuse, \(onlyUs) accepted only by us, \(onlyKernel) refused only by us"
                + (notJudged > 0 ? ", \(notJudged) not judged by the kernel" : "")
        }
    }

    /// Fuzzes `count` programs from `seed`.
    /// - Parameters:
    ///   - minimize: shrink each program accepted only by us (costs oracle calls).
    ///   - privileged: verify with a root kernel loader's `allow_uninit_stack`, as the oracle's
    ///     kernel does.
    ///   - progress: called every 1,000 programs.
    package static func run(
        count: Int, seed: UInt64, oracle: Oracle, minimize: Bool = true, privileged: Bool = false, progress: (Summary) -> Void = { _ in }
    ) -> Summary {
        var generator = ProgramGenerator(seed: seed)
        var summary = Summary()
        for index in 0..<count {
            let program = generator.next()
            let ours = program.ourVerdict(privileged: privileged)
            let kernel = oracle(program)
            summary.programs += 1
            for gadget in program.gadgets { summary.gadgets[gadget, default: 0] += 1 }
            if case .refused(let m) = ours { summary.ourRefusals[messageCategory(m), default: 0] += 1 }
            if case .refused(let m) = kernel { summary.kernelRefusals[messageCategory(m), default: 0] += 1 }
            switch (ours, kernel) {
            case (_, .notJudged(let why)):
                summary.notJudged += 1
                summary.notJudgedReasons[why, default: 0] += 1
                if summary.notJudgedExamples.count < 3 { summary.notJudgedExamples.append(program) }
            case (.accepted, .accepted): summary.bothAccept += 1
            case (.accepted, _):
                summary.onlyUs += 1
                let small = minimize ? Self.minimize(program, oracle: oracle, privileged: privileged) : program
                let said = minimize ? oracle(small).message : kernel.message
                summary.acceptedOnlyByUs.append(Disagreement(program: small, kernel: said, seed: seed, index: index))
            case (_, .accepted):
                summary.onlyKernel += 1
                summary.refusedOnlyByUs[messageCategory(ours.message), default: 0] += 1
            default: summary.bothRefuse += 1
            }
            if (index + 1) % 1000 == 0 { progress(summary) }
        }
        return summary
    }

    /// The smallest program found that we still accept and the kernel still refuses: each
    /// instruction replaced by `goto +0` where that keeps the disagreement, then the `goto +0`s
    /// removed where that keeps it.
    package static func minimize(_ program: FuzzProgram, oracle: Oracle, privileged: Bool = false) -> FuzzProgram {
        func disagrees(_ p: FuzzProgram) -> Bool { p.ourVerdict(privileged: privileged).isAccepted && oracle(p).isRefused }
        let nop = Instruction(opcode: 0x05)
        var current = program
        var i = 0
        while i < current.code.count {
            let wide = current.code[i].isWide
            var candidate = current
            candidate.code[i] = nop
            if wide { candidate.code[i + 1] = nop }
            if current.code[i] != nop, disagrees(candidate) { current = candidate }
            i += wide ? 2 : 1
        }
        i = current.code.count - 1
        while i >= 0 {
            if current.code[i] == nop, let candidate = current.removing(i), disagrees(candidate) { current = candidate }
            i -= 1
        }
        return current
    }
}

extension FuzzProgram {
    /// The program without instruction `i`, every jump and call across it shortened; nil when
    /// a jump lands inside a wide instruction afterwards.
    func removing(_ i: Int) -> FuzzProgram? {
        var out = self
        var code = self.code
        for j in code.indices where j != i {
            let insn = code[j]
            let cls = insn.opClass
            guard cls == .jmp || cls == .jmp32 else { continue }
            let op = insn.opcode & 0xf0
            if op == JumpOp.exit.rawValue { continue }
            let isCall = op == JumpOp.call.rawValue
            if isCall, insn.src != CallKind.local.rawValue { continue }
            let usesImm = isCall || (cls == .jmp32 && op == JumpOp.ja.rawValue)
            let displacement = usesImm ? Int(insn.imm) : Int(insn.offset)
            let target = j + 1 + displacement
            let newJ = j > i ? j - 1 : j
            let newTarget = target > i ? target - 1 : target
            let newDisplacement = newTarget - newJ - 1
            if usesImm {
                code[j].imm = Int32(newDisplacement)
            } else {
                guard let d = Int16(exactly: newDisplacement) else { return nil }
                code[j].offset = d
            }
        }
        code.remove(at: i)
        out.code = code
        return out
    }
}

import BPFCore

/// The step-by-step log in the kernel's format (`bpf_verifier_log` at level 2): the entry
/// state; each instruction with, past a `;` at the kernel's alignment, the registers and stack
/// slots it used or changed as they are after it; C source lines as `; text @ file:line`;
/// `from X to Y:` where a queued branch is explored; `safe` where a path is pruned; and the
/// closing `stack depth` and `processed … insns` lines.
struct VerifierLog {
    private(set) var lines: [String] = []
    private var lastSource: String?

    /// The entry state.
    mutating func start(_ state: String) {
        lines.append("0: " + state)
    }

    /// A queued branch's walk begins: `from 5 to 10:` and its state (or ` safe`, by ``pruned``).
    mutating func branch(from: Int, to: Int, _ state: String) {
        lines.append("")
        lines.append("from \(from) to \(to): " + state)
        lastSource = nil
    }

    /// The path was pruned at `pc`: a covering state was explored already.
    mutating func pruned(at pc: Int, branchFrom: Int?) {
        if let from = branchFrom, lines.last?.hasPrefix("from \(from) to \(pc): ") == true {
            lines[lines.count - 1] = "from \(from) to \(pc): safe"
        } else {
            lines.append("\(pc): safe")
        }
    }

    /// Instruction `pc` (`text`), its source line, and what it used or changed.
    mutating func instruction(_ pc: Int, _ insn: Instruction, text: String, source: String?, touched: [String]) {
        if let source, source != lastSource {
            lastSource = source
            lines.append("; " + Self.kernelSourceLine(source))
        }
        var line = "\(pc): (\(hex(insn.opcode))) \(text)"
        if !touched.isEmpty {
            // vlog_alignment: the ';' two columns before max(end + 5, 40) rounded up to 8.
            let column = max(line.count + 5, 40).roundedUp(to: 8) - 2
            line += String(repeating: " ", count: column - line.count) + "; " + touched.joined(separator: " ")
        }
        lines.append(line)
    }

    /// The closing lines.
    mutating func finish(stackDepths: [Int], processed: Int, limit: Int, maxStatesPerInstruction: Int, totalStates: Int, peakStates: Int) {
        lines.append("stack depth " + stackDepths.map(String.init).joined(separator: "+"))
        lines.append(
            "processed \(processed) insns (limit \(limit)) max_states_per_insn \(maxStatesPerInstruction) total_states \(totalStates) peak_states \(peakStates) mark_read 0"
        )
    }

    /// `file.c:12: text` (how configurations name source lines) as the kernel prints it:
    /// `text @ file.c:12`.
    static func kernelSourceLine(_ source: String) -> String {
        let parts = source.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, Int(parts[1]) != nil else { return source }
        return "\(parts[2].drop { $0 == " " }) @ \(parts[0]):\(parts[1])"
    }

    /// The registers an instruction names (its operands, r0 for a call) and the stack slots
    /// whose contents changed, as they are after it.
    static func touched(_ insn: Instruction, before: borrowing VerifierState, after: borrowing VerifierState, in analysis: Analysis) -> [String] {
        var registers: Set<Int> = []
        let cls = insn.opcode & 0x07
        let usesSource = insn.opcode & 0x08 != 0
        switch cls {
        case 0x04, 0x07:  // ALU, ALU64
            registers.insert(Int(insn.dst))
            if usesSource { registers.insert(Int(insn.src)) }
        case 0x01, 0x03:  // LDX, STX
            registers.formUnion([Int(insn.dst), Int(insn.src)])
        case 0x02, 0x00:  // ST, LD (lddw)
            registers.insert(Int(insn.dst))
        default:  // JMP, JMP32
            switch insn.opcode & 0xf0 {
            case 0x80: registers.insert(0)  // call
            case 0x90, 0x00: break  // exit, ja
            default:
                registers.insert(Int(insn.dst))
                if usesSource { registers.insert(Int(insn.src)) }
            }
        }
        var parts = registers.sorted().filter { $0 <= 10 && after[register: $0].isInitialized && after.depth == before.depth }
            .map { "R\($0)=\(analysis.render(after[register: $0]))" }
        if after.depth == before.depth {
            let old = analysis.describe(before).split(separator: " ").filter { $0.hasPrefix("fp-") }
            let new = analysis.describe(after).split(separator: " ").filter { $0.hasPrefix("fp-") }
            parts += new.filter { !old.contains($0) }.map(String.init)
        }
        return parts
    }
}

extension Int {
    fileprivate func roundedUp(to multiple: Int) -> Int { (self + multiple - 1) / multiple * multiple }
}

import BPFCore

/// The program's shape, found before any path is walked: where its subprograms start, which
/// instructions are reachable, where states are worth remembering, and which registers are live
/// at each instruction (so pruning can ignore the dead ones).
struct ControlFlow {
    /// First instruction of each subprogram, ascending; the program itself is 0.
    let subprograms: [Int]
    /// Instructions where the verifier checks the current state against explored ones: jump
    /// targets, fall-throughs of conditional jumps, and returns from calls.
    let prunePoints: [Bool]
    /// Instructions calling a helper that calls back: the same state there again means the
    /// callback's iterations have converged (`calls_callback`), not an endless loop.
    private(set) var callbackCallSites: Set<Int> = []
    /// Registers read before being written on some path from each instruction (bit r).
    let liveIn: [UInt16]
    /// Per subprogram: whether it holds a tail call, and a legacy packet load
    /// (`LD_ABS`/`LD_IND`) — reachable or not, as the kernel's `check_subprogs` notes them.
    let tailCalls: [Bool]
    let legacyPacketLoads: [Bool]

    struct Failure: Error {
        var index: Int
        var message: String
    }

    init(_ code: [Instruction], requireReachable: Bool) throws(Failure) {
        let count = code.count
        var starts = [0]
        for (i, insn) in code.enumerated() {
            if insn.opcode == 0x85, insn.src == CallKind.local.rawValue { starts.append(i + 1 + Int(insn.imm)) }
            if insn.isWide, insn.src == WideImmediateKind.function.rawValue { starts.append(i + 1 + Int(insn.imm)) }
        }
        starts.sort()
        subprograms = starts.enumerated().filter { $0.offset == 0 || $0.element != starts[$0.offset - 1] }.map(\.element)
        guard subprograms.count <= 256 else { throw Failure(index: subprograms[256], message: "too many subprograms (\(subprograms.count), the limit is 256)") }
        for s in subprograms where s < 0 || s >= count { throw Failure(index: s, message: "call to an instruction outside the program (\(s))") }
        var tailCalls = [Bool](repeating: false, count: subprograms.count), legacy = tailCalls
        var sub = 0
        var at = 0
        while at < count {
            let insn = code[at]
            while sub + 1 < subprograms.count, subprograms[sub + 1] <= at { sub += 1 }
            if insn.opcode == 0x85, insn.src == CallKind.helper.rawValue, insn.imm == HelperID.tailCall.rawValue { tailCalls[sub] = true }
            if insn.opClass == .ld, !insn.isWide { legacy[sub] = true }
            at += insn.isWide ? 2 : 1
        }
        self.tailCalls = tailCalls
        legacyPacketLoads = legacy

        // At most two successors an instruction (-1: none), kept flat: no array per instruction.
        var successors = [Successors](repeating: Successors(-1, -1), count: count)
        var prune = [Bool](repeating: false, count: count + 1)
        var i = 0
        while i < count {
            let insn = code[i]
            let width = insn.isWide ? 2 : 1
            let cls = insn.opClass
            if cls == .jmp || cls == .jmp32 {
                let op = insn.opcode & 0xf0
                if op == JumpOp.exit.rawValue {
                    // no successor
                } else if op == JumpOp.call.rawValue {
                    successors[i] = Successors(i + 1, -1)
                    prune[i + 1] = true
                } else if op == JumpOp.ja.rawValue {
                    let target = i + 1 + (Validator.branchDisplacement(insn) ?? 0)
                    successors[i] = Successors(target, -1)
                    prune[target] = true
                } else {
                    let target = i + 1 + Int(insn.offset)
                    successors[i] = Successors(i + 1, target)
                    prune[i + 1] = true
                    prune[target] = true
                }
            } else {
                successors[i] = Successors(i + width, -1)
            }
            i += width
        }
        for s in subprograms { prune[s] = true }
        // Helper calls that call back (bpf_loop): the callback's iterations come back to them.
        let callingBack = [HelperID.loop.rawValue, HelperID.forEachMapElem.rawValue]
        for (i, insn) in code.enumerated() where insn.opcode == 0x85 && insn.src == 0 && callingBack.contains(insn.imm) {
            prune[i] = true
            callbackCallSites.insert(i)
        }
        prunePoints = prune

        // Reachability from every subprogram's entry.
        var reached = [Bool](repeating: false, count: count + 1)
        var stack = subprograms
        while let n = stack.popLast() {
            guard n >= 0, n <= count, !reached[n] else { continue }
            reached[n] = true
            if n < count {
                stack.append(successors[n].first)
                stack.append(successors[n].second)
            }
        }
        if requireReachable {
            i = 0
            while i < count {
                if !reached[i] { throw Failure(index: i, message: "unreachable insn \(i)") }
                i += code[i].isWide ? 2 : 1
            }
        }

        // Liveness: backward data flow to a fixed point. Predecessors in one flat list,
        // `predecessorStart[n]..<predecessorStart[n + 1]` for instruction n.
        var uses = [UInt16](repeating: 0, count: count), defs = [UInt16](repeating: 0, count: count)
        var predecessorStart = [Int](repeating: 0, count: count + 2)
        for n in 0..<count {
            (uses[n], defs[n]) = Self.usesAndDefinitions(code[n])
            let (a, b) = (successors[n].first, successors[n].second)
            if a >= 0, a <= count { predecessorStart[a + 1] += 1 }
            if b >= 0, b <= count { predecessorStart[b + 1] += 1 }
        }
        for n in 0...count { predecessorStart[n + 1] += predecessorStart[n] }
        var predecessors = [Int](repeating: 0, count: predecessorStart[count + 1])
        var filled = predecessorStart
        for n in 0..<count {
            let (a, b) = (successors[n].first, successors[n].second)
            if a >= 0, a <= count { predecessors[filled[a]] = n; filled[a] += 1 }
            if b >= 0, b <= count { predecessors[filled[b]] = n; filled[b] += 1 }
        }
        var live = [UInt16](repeating: 0, count: count + 1)
        var work = Array(0..<count)
        var queued = [Bool](repeating: true, count: count)
        while let n = work.popLast() {
            queued[n] = false
            var out: UInt16 = 0
            let (a, b) = (successors[n].first, successors[n].second)
            if a >= 0, a <= count { out |= live[a] }
            if b >= 0, b <= count { out |= live[b] }
            let newIn = uses[n] | (out & ~defs[n])
            guard newIn != live[n] else { continue }
            live[n] = newIn
            for k in predecessorStart[n]..<predecessorStart[n + 1] where !queued[predecessors[k]] {
                queued[predecessors[k]] = true
                work.append(predecessors[k])
            }
        }
        liveIn = live
    }

    /// An instruction's successors, -1 where it has fewer than two.
    private struct Successors {
        var first: Int, second: Int
        init(_ first: Int, _ second: Int) { (self.first, self.second) = (first, second) }
    }

    /// The subprogram holding instruction `pc`.
    func subprogram(of pc: Int) -> Int {
        var lo = 0, hi = subprograms.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if subprograms[mid] <= pc { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// Registers an instruction reads, and those it writes (or leaves unreadable).
    private static func usesAndDefinitions(_ insn: Instruction) -> (UInt16, UInt16) {
        func bit(_ r: UInt8) -> UInt16 { r < 11 ? 1 << UInt16(r) : 0 }
        let callClobbered: UInt16 = 0b11_1111  // r0-r5
        let arguments: UInt16 = 0b11_1110  // r1-r5
        let usesSource = insn.opcode & 0x08 != 0
        switch insn.opClass {
        case .alu, .alu64:
            let op = insn.opcode & 0xf0
            if op == ALUOp.mov.rawValue { return (usesSource ? bit(insn.src) : 0, bit(insn.dst)) }
            return (bit(insn.dst) | (usesSource && op != ALUOp.end.rawValue && op != ALUOp.neg.rawValue ? bit(insn.src) : 0), bit(insn.dst))
        case .ldx: return (bit(insn.src), bit(insn.dst))
        case .st: return (bit(insn.dst), 0)
        case .stx:
            if insn.opcode & 0xe0 == MemMode.atomic.rawValue, let op = AtomicOp(rawValue: insn.imm), op.fetches {
                if op == .cmpxchg { return (bit(insn.dst) | bit(insn.src) | 1, 1) }
                return (bit(insn.dst) | bit(insn.src), bit(insn.src))
            }
            return (bit(insn.dst) | bit(insn.src), 0)
        case .ld:
            if insn.isWide { return (0, bit(insn.dst)) }
            // LD_ABS/LD_IND read the context in r6 and clobber r0-r5 like a call.
            return (bit(6) | (insn.opcode & 0xe0 == MemMode.ind.rawValue ? bit(insn.src) : 0), callClobbered)
        case .jmp, .jmp32:
            let op = insn.opcode & 0xf0
            if op == JumpOp.exit.rawValue { return (1, 0) }
            if op == JumpOp.call.rawValue { return (arguments | (usesSource ? bit(insn.dst) : 0), callClobbered) }
            if op == JumpOp.ja.rawValue { return (0, 0) }
            return (bit(insn.dst) | (usesSource ? bit(insn.src) : 0), 0)
        }
    }
}

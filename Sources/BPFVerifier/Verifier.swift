public import BPFCore
import BPFPlatform

/// The static proof that a program is safe to run: on every path it terminates, reads only
/// initialized registers and stack, touches only memory it was given (its context by program
/// type, its stack, packet bytes proven inside the packet, map values after a NULL check, ring
/// buffer records it reserved), calls only helpers its type may call with arguments of the right
/// types, and releases what it acquires.
///
/// It works as the kernel's verifier does: abstract interpretation over every path, with each
/// register's type and, for numbers and pointer offsets, signed and unsigned 64- and 32-bit
/// bounds and known bits, narrowed on both sides of every conditional jump; states remembered
/// at jump targets and paths pruned when a remembered, fully explored state covers them.
public enum Verifier {
    /// What the verifier needs to know besides the code.
    public struct Configuration: Sendable {
        /// The program type: it decides the context and the helpers allowed.
        public var programType: ProgramType
        /// The maps `lddw` instructions name: by index (`BPF_PSEUDO_MAP_IDX`, `…_IDX_VALUE`), or
        /// with `BPF_PSEUDO_MAP_FD`/`…_VALUE` by index too (`imm` is taken as the index).
        public var maps: [MapShape]
        /// The context's layout; nil takes the program type's standard one.
        public var context: ContextLayout?
        /// Most instructions processed over all paths before giving up (the kernel's 1,000,000).
        public var complexityLimit = BPFLimits.maxInstructions
        /// Record a step-by-step log in the report.
        public var log = false
        /// The C source line of each instruction, for error messages.
        public var sourceLines: [Int: String] = [:]
        /// Also enforce the kernel's load-time rules that the userspace runtime does not need
        /// for safety — aligned stack accesses, shift counts inside the operand's width, no
        /// division by an immediate zero, no unreachable instructions, legacy packet loads only
        /// in socket filters and tc — so that what passes here loads into the kernel too.
        public var kernelRules = true
        /// Refuse a division or modulo whose divisor may be zero (the ISA defines the result,
        /// so by default it is allowed, as in the kernel).
        public var rejectDivisionByZero = false
        /// Accept `callx` (opcode 0x8d, a helper call through a register), which the
        /// interpreter runs and the kernel does not have (it refuses it as an unknown opcode).
        public var allowIndirectCalls = false
        /// The contents of read-only, frozen single-value array maps (`.rodata`, `.kconfig`), by
        /// map index: loads from them at a known offset are known numbers, as the kernel makes
        /// them (`bpf_map_direct_read`), so branches on `const volatile` settings are decided.
        public var frozenValues: [Int: [UInt8]] = [:]
        /// The values the program may return (the kernel's `check_return_code`): by default its
        /// type's (cgroup_skb 0 or 1); a loader that knows the attach point sets it (fentry and
        /// fexit 0, cgroup_skb egress 0 to 3); nil where any number will do.
        public var returnRange: ClosedRange<Int64>?
        /// Whether ``returnRange`` bounds the low 32 bits of r0 (an LSM hook returns an int).
        public var returnIs32Bit = false
        /// A privileged kernel loader's `allow_uninit_stack`: reading stack bytes never written
        /// gives an unknown number instead of a refusal. Off by default, and never on for the
        /// userspace runtime, whose native code's stack frames are the host thread's (an
        /// uninitialized read there would show the program host addresses); on, the verdicts
        /// are a root loader's in the kernel.
        public var allowUninitializedStack = false
        /// The kernel's object types (vmlinux BTF), to read through kernel object pointers (tracing
        /// arguments, `bpf_get_current_task_btf`); without them such reads are refused.
        public var kernelTypes: (any KernelObjectTypes)?
        /// Where the program attaches (`expected_attach_type`), when its type's helpers depend on
        /// it; nil takes what every attach point of the type allows.
        public var attachType: AttachType?
        /// The maps' names, by index, for the log (`map_value(map=counts,ks=4,vs=8)`).
        public var mapNames: [String] = []
        /// Whether the program is sleepable (`BPF_F_SLEEPABLE`: `.s` sections, syscall programs):
        /// only then may it call helpers that might sleep.
        public var sleepable = false
        /// Whether the program's license is GPL-compatible (the kernel's `license_is_gpl_compatible`):
        /// without it, GPL-only helpers are refused.
        public var gplCompatible = true
        /// Whether the program comes with BTF function info (`.BTF.ext`): without it the kernel
        /// refuses tail calls and legacy packet loads in subprograms.
        public var hasFunctionInfo = false

        /// Test harness settings (the verifier test vectors): running off the end ends a path
        /// like `exit` without its checks, unreachable code is allowed, and the entry state is
        /// given.
        package var endIsExit = false
        package var anyHelper = false
        package var entry: EntryState?

        public init(programType: ProgramType, maps: [MapShape] = [], context: ContextLayout? = nil) {
            self.programType = programType
            self.maps = maps
            self.context = context
            // check_return_code's range where it does not depend on the attach point (or is
            // the narrowest of them).
            returnRange =
                switch programType {
                case .cgroupSKB, .cgroupSock, .sockOps, .cgroupDevice, .cgroupSysctl, .cgroupSockopt: 0...1
                default: nil
                }
        }
    }

    /// Verifies `code` (a whole program: wide instructions in two slots, subprograms after
    /// the main one).
    /// - Returns: what the proof took.
    /// - Throws: ``VerificationError`` naming the first instruction where safety could not be
    ///   proven.
    public static func verify(_ code: [Instruction], _ configuration: Configuration) throws(VerificationError) -> VerifierReport {
        let start = monotonicNanoseconds()
        var analysis = try Analysis(code, configuration)
        try analysis.run()
        var report = analysis.report
        report.nanoseconds = monotonicNanoseconds() - start
        if let at = report.log.lastIndex(where: { $0.hasPrefix("stack depth ") }) {
            report.log.insert("verification time \(report.nanoseconds / 1000) usec", at: at)
        }
        return report
    }
}

/// A remembered state at a prune point. `pending` counts the paths (and newer checkpoints)
/// below it still being explored; at zero, everything reachable from it is proven safe and it
/// may prune other paths.
final class Checkpoint {
    let state: VerifierState
    let parent: Checkpoint?
    /// The path from `parent` (or the program's start) to this state.
    let incoming: [HistoryEntry]
    var pending = 1
    /// Paths this state pruned, and paths it was compared with and did not.
    var hits = 0
    var misses = 0
    /// The scalars whose ranges paths explored from here relied on (see `Precision.swift`).
    var precise = PrecisionSet()
    var allPrecise = false
    /// `state.loopKey`: states with different keys are not the same state.
    let loopKey: Int

    let pc: Int

    init(state: VerifierState, parent: Checkpoint?, incoming: [HistoryEntry], pc: Int, loopKey: Int) {
        self.state = state
        self.parent = parent
        self.incoming = incoming
        self.pc = pc
        self.loopKey = loopKey
    }
}

/// One verification run.
struct Analysis {
    let code: [Instruction]
    /// Where paths end without an `exit` (test harness), or -1.
    let end: Int
    let config: Configuration
    /// For each map of maps (by index), the index of the map standing for those it holds.
    var innerMaps: [Int: Int32] = [:]
    let flow: ControlFlow
    let context: ContextLayout?
    typealias Configuration = Verifier.Configuration

    /// Remembered states by instruction: those fully explored, and those still being explored.
    var complete: [[Checkpoint]]
    var inProgress: [[Checkpoint]]
    var processed = 0
    var totalStates = 0
    var peakStates = 0
    var liveStates = 0
    var pruned = 0
    var jumpsProcessed = 0
    var lastCheckpointAt = (instructions: 0, jumps: 0)
    var nextID: UInt32 = 0
    var stackDepth: [Int]
    /// Per instruction, what its loads and stores went through: 0 not yet, 1 the context, 2
    /// other memory.
    var baseKinds: [UInt8]
    var contextExtent = 0
    var trace = VerifierLog()
    /// Instructions some path reached.
    var visited: [Bool] = []
    /// Registers of the current frame the instruction just checked relied on the exact range
    /// of (set by `step`, consumed by `walk`).
    var precisionRequest: UInt16 = 0
    /// The current path's precision requests since its checkpoint: from where in its history
    /// each went back, and with what (see `backtrack`).
    var backtracked: [BacktrackMemo] = []

    /// Paths waiting to be explored: state, instruction, the checkpoint they descend from and
    /// the instructions since it.
    var work: [Path] = []

    /// A path to explore (named types rather than tuples: no generic metadata at run time).
    struct Path {
        var state: VerifierState
        var pc: Int
        var checkpoint: Checkpoint?
        var history: [HistoryEntry]
        /// The conditional jump whose other side this is (for the log).
        var from: Int? = nil
    }

    init(_ code: [Instruction], _ config: Configuration) throws(VerificationError) {
        // With `endIsExit`, a final `exit` stands for "the end": paths stop when they reach it.
        self.code = config.endIsExit ? code + [Instruction(opcode: 0x95)] : code
        self.end = config.endIsExit ? code.count : -1
        // The maps that maps of maps hold are verified as maps of their own, after the program's.
        var config = config
        var names = config.mapNames + [String](repeating: "", count: max(0, config.maps.count - config.mapNames.count))
        for (i, shape) in config.maps.enumerated() where shape.holdsMaps {
            guard let inner = shape.inner else { continue }
            innerMaps[i] = Int32(config.maps.count)
            config.maps.append(inner.shape)
            names.append(names[i].isEmpty ? "" : names[i] + ".inner")
        }
        config.mapNames = names
        self.config = config
        do { try Validator.validate(self.code) } catch {
            throw VerificationError(instruction: error.index, text: error.instruction.map { Disassembler.text($0) } ?? "", message: error.reason)
        }
        if !config.allowIndirectCalls, let at = self.code.firstIndex(where: { $0.opcode == 0x8d }) {
            // The kernel has no `callx`: it refuses the opcode wherever it stands.
            throw VerificationError(instruction: at, text: Disassembler.text(self.code[at]), message: "unknown opcode 8d")
        }
        do { flow = try ControlFlow(code, requireReachable: config.kernelRules) } catch {
            throw VerificationError(
                instruction: error.index, text: code.indices.contains(error.index) ? Disassembler.text(code[error.index]) : "", message: error.message)
        }
        context = config.context ?? ContextLayout.standard(for: config.programType, attachType: config.attachType)
        // check_abnormal_return: without BTF function info, subprograms may not tail call or
        // use legacy packet loads (their exits could not be accounted for).
        if !config.hasFunctionInfo {
            for sub in 1..<max(flow.subprograms.count, 1) {
                let at = flow.subprograms[sub]
                let text = Disassembler.text(code[at])
                if flow.legacyPacketLoads[sub] {
                    throw VerificationError(instruction: at, text: text, message: "LD_ABS is not allowed in subprogs without BTF")
                }
                if flow.tailCalls[sub] { throw VerificationError(instruction: at, text: text, message: "tail_call is not allowed in subprogs without BTF") }
            }
        }
        complete = Array(repeating: [], count: self.code.count + 1)
        inProgress = complete
        stackDepth = Array(repeating: 0, count: flow.subprograms.count)
        baseKinds = Array(repeating: 0, count: self.code.count)
        visited = Array(repeating: false, count: self.code.count)
    }

    /// The kernel JITs only subprograms it verified: a function whose address a verified
    /// instruction takes must have been called back somewhere.
    private func checkFunctionAddresses() throws(VerificationError) {
        for pc in code.indices where visited[pc] && code[pc].isWide && code[pc].src == WideImmediateKind.function.rawValue {
            let target = pc + 1 + Int(code[pc].imm)
            if target >= 0, target < code.count, !visited[target] {
                throw VerificationError(instruction: pc, text: text(pc), message: "verifier bug: No program to jit at insn \(pc) (subprog < 0)")
            }
        }
    }

    var report: VerifierReport {
        VerifierReport(
            processedInstructions: processed, totalStates: totalStates, peakStates: peakStates, prunedPaths: pruned,
            stackDepth: stackDepth.max() ?? 0, contextExtent: contextExtent,
            contextAccesses: baseKinds.indices.filter { baseKinds[$0] == 1 }, nanoseconds: 0, log: trace.lines)
    }

    mutating func freshID() -> UInt32 {
        nextID += 1
        return nextID
    }

    mutating func run() throws(VerificationError) {
        var entry = EntryState()
        if let given = config.entry {
            entry = given
        } else {
            entry.registers[1] = .pointer(.context)
            entry.registers[10] = .pointer(.stack)
        }
        var state = VerifierState()
        state.registers = entry.registers
        state.frames = [entry.frame]
        if config.log { trace.start(describe(state)) }
        work.append(Path(state: state, pc: 0, checkpoint: nil, history: []))
        while let item = work.popLast() {
            if config.log, let from = item.from { trace.branch(from: from, to: item.pc, describe(item.state)) }
            try walk(item.state, from: item.pc, under: item.checkpoint, history: item.history, branchFrom: item.from)
        }
        try checkCallChains()
        try checkFunctionAddresses()
        if config.log {
            trace.finish(
                stackDepths: stackDepth, processed: processed, limit: config.complexityLimit,
                maxStatesPerInstruction: complete.map(\.count).max() ?? 0, totalStates: totalStates, peakStates: peakStates)
        }
    }

    /// Follows one path until it exits, is pruned or cannot continue, queueing the other side
    /// of every conditional jump on the way.
    private mutating func walk(_ start: VerifierState, from pc: Int, under checkpoint: Checkpoint?, history: [HistoryEntry], branchFrom: Int?)
        throws(VerificationError)
    {
        var state = start, pc = pc, checkpoint = checkpoint, history = history
        backtracked.removeAll(keepingCapacity: true)
        let startProcessed = processed
        while true {
            if pc == end { break }
            if flow.prunePoints[pc] {
                if try isCovered(state, at: pc, checkpoint: &checkpoint, history: &history, pathStart: processed == startProcessed) {
                    pruned += 1
                    if config.log { trace.pruned(at: pc, branchFrom: processed == startProcessed ? branchFrom : nil) }
                    break
                }
            }
            if history.count >= 256 {
                // A long stretch with no remembered state (a loop past the in-progress cap):
                // cut the path's history here so precision requests never walk far.
                let cut = Checkpoint(state: state, parent: checkpoint, incoming: history, pc: pc, loopKey: 0)
                history = []
                backtracked.removeAll(keepingCapacity: true)
                checkpoint = cut
            }
            processed += 1
            if processed > config.complexityLimit {
                throw error(pc, state, "BPF program is too large. Processed \(processed) insn")
            }
            visited[pc] = true
            let before = config.log ? state : nil
            let entry = Self.historyEntry(code[pc], state, pc)
            let depth = state.depth
            let next = try step(&state, pc)
            if let before {
                var ended = false
                if case .end = next { ended = true }
                let touched = ended ? [] : VerifierLog.touched(code[pc], before: before, after: state, in: self)
                trace.instruction(pc, code[pc], text: text(pc), source: config.sourceLines[pc], touched: touched)
            }
            if precisionRequest != 0 {
                requirePrecise(precisionRequest, depth: depth, history: history, checkpoint: checkpoint)
                precisionRequest = 0
            }
            history.append(entry)
            switch next {
            case .next(let n):
                pc = n
            case .branch(let taken, let target):
                jumpsProcessed += 1
                if let taken {
                    guard work.count < 8192 else { throw error(pc, state, "The sequence of 8193 jumps is too complex.") }
                    checkpoint?.pending += 1
                    work.append(Path(state: taken, pc: target, checkpoint: checkpoint, history: history, from: pc))
                }
                pc += 1
            case .jump(let target):
                jumpsProcessed += 1
                pc = target
            case .end:
                finish(checkpoint)
                return
            }
        }
        finish(checkpoint)
    }

    /// Whether a fully explored state at `pc` covers `state`; otherwise remembers `state`
    /// (now and then, as the kernel does, so long loops do not fill memory).
    private mutating func isCovered(_ state: VerifierState, at pc: Int, checkpoint: inout Checkpoint?, history: inout [HistoryEntry], pathStart: Bool)
        throws(VerificationError) -> Bool
    {
        // Remembered: subprogram entries; where a queued branch starts walking (its siblings
        // meet there, so the state is likely to prune them); and otherwise after 2 jumps and 8
        // instructions, as the kernel does.
        let callbackSite = flow.callbackCallSites.contains(pc)
        var remember =
            flow.subprograms.contains(pc) || pathStart || callbackSite
            || (jumpsProcessed - lastCheckpointAt.jumps >= 2 && processed - lastCheckpointAt.instructions >= 8)
        // States still being explored are this path's ancestors: the same state again is a
        // loop that cannot end. Only the newest few are compared: in a loop that changes
        // nothing, the repeat is one remembered state away.
        let ancestors = inProgress[pc]
        let loopKey = ancestors.isEmpty && !remember ? 0 : state.loopKey
        for k in ancestors.indices.suffix(16) where ancestors[k].loopKey == loopKey && ancestors[k].state == state {
            // At a callback's call site, the state it began with again: the iterations
            // converged, and that state's exploration covers this one.
            if callbackSite { return true }
            throw error(pc, state, "infinite loop detected at insn \(pc)")
        }
        // Inside a loop every iteration differs, and few remembered iterations ever prune:
        // remember one only every 20 jumps or 100 instructions, as the kernel does.
        if remember, !pathStart, !callbackSite, let last = ancestors.last, last.state.depth == state.depth,
            jumpsProcessed - lastCheckpointAt.jumps < 20, processed - lastCheckpointAt.instructions < 100
        {
            remember = false
        }
        // States complete deepest first, so the list runs from the newest remembered to the
        // oldest: a loop's latest iterations, the likeliest to match, come first.
        if callbackSite {
            // The callback's iterations converge when the state at its call, numbers compared
            // by range (RANGE_WITHIN), is inside one this call site is still exploring.
            let live = liveMasks(state, at: pc)
            for old in inProgress[pc] where old.misses <= old.hits * 3 + 3 {
                if state.isSubsumed(by: old.state, precision: nil, live: live) {
                    old.hits += 1
                    backtrack(.all, history: history, checkpoint: checkpoint)
                    return true
                }
                // Iterations that keep differing (a counter the callback's exit depends on)
                // stop being compared, as the kernel drops such states from its search.
                old.misses += 1
            }
        }
        let candidates = complete[pc]
        if !candidates.isEmpty {
            let live = liveMasks(state, at: pc)
            var evicted: [Int] = []
            defer { for k in evicted.reversed() { complete[pc].remove(at: k) } }
            for (k, old) in candidates.enumerated() {
                if state.isSubsumed(by: old.state, precision: old.allPrecise ? nil : old.precise, live: live) {
                    old.hits += 1
                    // The rest of this path is the one explored from `old`: it relies on what
                    // that one relied on.
                    backtrack(old.allPrecise ? .all : old.precise, history: history, checkpoint: checkpoint)
                    return true
                }
                // A state that keeps failing to cover newer ones only costs time: forget it, as
                // the kernel does.
                old.misses += 1
                if old.misses > old.hits * 3 + 3 { evicted.append(k) }
            }
        }
        guard remember, inProgress[pc].count < 1024 else { return false }
        lastCheckpointAt = (processed, jumpsProcessed)
        let remembered = Checkpoint(state: state, parent: checkpoint, incoming: history, pc: pc, loopKey: loopKey)
        history = []
        backtracked.removeAll(keepingCapacity: true)
        inProgress[pc].append(remembered)
        checkpoint = remembered
        totalStates += 1
        liveStates += 1
        peakStates = max(peakStates, liveStates)
        return false
    }

    /// Registers that matter at `pc` in each frame: those live there in the innermost one, and
    /// those live after the call in each caller.
    private func liveMasks(_ state: VerifierState, at pc: Int) -> SIMD8<UInt16> {
        var masks = SIMD8<UInt16>()
        masks[state.frames.count - 1] = flow.liveIn[pc]
        for f in 0..<state.frames.count - 1 {
            masks[f] = flow.liveIn[state.frames[f + 1].callSite + 1] & ~0b11_1111
        }
        return masks
    }

    /// A path ended: its checkpoint, and any ancestor left with nothing pending, is complete
    /// and may prune from now on.
    private mutating func finish(_ checkpoint: Checkpoint?) {
        var c = checkpoint
        while let node = c {
            node.pending -= 1
            guard node.pending == 0 else { break }
            if let k = inProgress[node.pc].lastIndex(where: { $0 === node }) {
                liveStates -= 1
                inProgress[node.pc].remove(at: k)
                complete[node.pc].append(node)
            }
            c = node.parent
        }
    }

    /// The kernel's limits on chains of calls (`check_max_stack_depth`), over every call
    /// instruction whether a path reached it or not: at most 8 frames (so recursion, even in
    /// dead code, is refused), each function's stack rounded up to 16 bytes (as with the
    /// JIT) and summed along the chain to at most 512, and no tail call in a function called
    /// with 256 bytes or more of stack above it.
    private func checkCallChains() throws(VerificationError) {
        let calls: [[(site: Int, callee: Int)]] = flow.subprograms.indices.map { sub in
            let start = flow.subprograms[sub]
            let end = sub + 1 < flow.subprograms.count ? flow.subprograms[sub + 1] : code.count
            return (start..<end).compactMap { i in
                let insn = code[i]
                let local = insn.opcode == 0x85 && insn.src == CallKind.local.rawValue
                let function = insn.isWide && insn.src == WideImmediateKind.function.rawValue
                return local || function ? (i, flow.subprogram(of: i + 1 + Int(insn.imm))) : nil
            }
        }
        func own(_ sub: Int) -> Int { (stackDepth[sub] + 15) / 16 * 16 }
        // The checks only get stricter with more frames or more stack above, so a function
        // already walked at this depth with as much stack above needs no second walk: the
        // walk stays linear where the kernel's would repeat itself.
        var walked = [[Int]](repeating: [Int](repeating: -1, count: BPFLimits.maxCallFrames), count: flow.subprograms.count)
        func walk(_ sub: Int, frame: Int, above: Int) throws(VerificationError) {
            if walked[sub][frame] >= above { return }
            walked[sub][frame] = above
            if sub > 0, flow.tailCalls[sub], above >= 256 {
                throw VerificationError(
                    instruction: flow.subprograms[sub], text: text(flow.subprograms[sub]),
                    message: "tail_calls are not allowed when call stack of previous frames is \(above) bytes. Too large")
            }
            let depth = above + own(sub)
            if depth > BPFLimits.stackSize {
                throw VerificationError(
                    instruction: flow.subprograms[sub], text: text(flow.subprograms[sub]),
                    message: "combined stack size of \(frame + 1) calls is \(depth). Too large")
            }
            for call in calls[sub] {
                if frame + 1 >= BPFLimits.maxCallFrames {
                    throw VerificationError(instruction: call.site, text: text(call.site), message: "the call stack of \(frame + 1) frames is too deep !")
                }
                try walk(call.callee, frame: frame + 1, above: depth)
            }
        }
        try walk(0, frame: 0, above: 0)
    }

    // MARK: - Messages

    func text(_ pc: Int) -> String {
        guard pc < code.count else { return "end" }
        return Disassembler.text(code[pc], next: code[pc].isWide && pc + 1 < code.count ? code[pc + 1] : nil)
    }

    func error(_ pc: Int, _ state: VerifierState, _ message: String) -> VerificationError {
        VerificationError(instruction: pc, text: text(pc), message: message, registers: describe(state), sourceLine: config.sourceLines[pc])
    }

    /// A register as the kernel's log prints it, maps and kernel types named.
    func render(_ r: Register) -> String { r.rendered(maps: config.maps, mapNames: config.mapNames, kernelTypes: config.kernelTypes) }

    /// Registers and stack slots of the innermost frame as the kernel's log prints them:
    /// `R1=ctx() R10=fp0 fp-8=mmmm????` (a slot's bytes from its highest address down).
    func describe(_ state: borrowing VerifierState) -> String {
        let frame = state.current
        var parts: [String] = []
        for r in 0..<11 where state[register: r].isInitialized { parts.append("R\(r)=\(render(state[register: r]))") }
        for slot in 0..<frame.spills.count {
            let bytes = frame.slots[slot * 8..<slot * 8 + 8]
            if bytes.allSatisfy({ $0 == .invalid }) { continue }
            let offset = slot * 8 - BPFLimits.stackSize
            if bytes.first == .spill {
                // A spill, narrow ones after the slot's other bytes (`fp-8=mmmm1`).
                parts.append("fp\(offset)=" + bytes.reversed().prefix { $0 != .spill }.map(Self.byteCode).joined() + render(frame.spills[slot]))
            } else {
                parts.append("fp\(offset)=" + bytes.reversed().map(Self.byteCode).joined())
            }
        }
        return parts.joined(separator: " ")
    }

    private static func byteCode(_ s: Frame.Slot) -> String {
        switch s {
        case .invalid: "?"
        case .misc: "m"
        case .zero: "0"
        case .spill: "r"
        }
    }
}

func hex(_ byte: UInt8) -> String { hexString(CollectionOfOne(byte)) }

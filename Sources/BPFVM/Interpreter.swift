public import BPFCore
public import BPFMaps
import CBPFShims

/// Executes eBPF programs by interpretation.
///
/// Instructions are validated and pre-decoded once, at initialization; ``run(_:_:mode:regions:)``
/// then touches only unsafe buffers. Registers hold real host addresses (DESIGN.md principle 1):
/// in ``ExecutionMode/fast`` mode nothing is checked at run time and safety rests on the
/// verifier; ``ExecutionMode/checked(instructionLimit:)`` bounds-checks every access.
///
/// An interpreter owns its stack, so one instance runs one program at a time; use one instance
/// per thread to run the same program concurrently.
public final class Interpreter {
    /// The program as loaded.
    public let instructions: [Instruction]

    private let code: UnsafeMutableBufferPointer<DecodedInstruction>
    private let helpers: UnsafeMutablePointer<HelperFunction?>
    private let registers: UnsafeMutablePointer<UInt64>
    private let frames: UnsafeMutablePointer<Frame>
    private let stack: UnsafeMutableRawPointer
    private let helperContext: UnsafeMutablePointer<HelperContext>
    private let entry: UnsafeMutablePointer<UInt64>
    private var helperContextRaw: UnsafeMutableRawPointer { UnsafeMutableRawPointer(helperContext) }

    private static let stackBytes = BPFLimits.stackSize * BPFLimits.maxCallFrames

    /// Whether a run is under way: a callback then runs in the call frame below its caller's.
    private var isRunning = false
    /// The checked run under way, whose regions a callback made during it is held to.
    private var checkedRun: CheckedPolicy?
    /// A callback's failure, thrown by the run loop when the helper that called back returns.
    private var callbackFailure: ExecutionError?
    /// Where callbacks may begin: the functions whose address the program takes.
    private let callbackEntries: Set<Int>
    /// The keys `bpf_for_each_map_elem` shows its callbacks, and how deep such helpers nest.
    private let callbackKeys: UnsafeMutableRawPointer
    private let callbackNesting: UnsafeMutablePointer<Int>

    /// Validates and prepares `instructions` for execution.
    /// - Parameter maps: the maps the program's `lddw` instructions refer to; lookups in array
    ///   maps among them are decoded inline, without a helper call.
    /// - Throws: ``PreparationError`` naming the instruction that is malformed, calls a helper that
    ///   `helpers` does not have, or needs relocation by an object loader.
    public convenience init(
        _ instructions: [Instruction], helpers table: HelperTable = .standard, userData: UnsafeMutableRawPointer? = nil,
        maps: [BPFMap] = []
    ) throws(PreparationError) {
        self.init(try DecodedProgram(instructions, helpers: table), userData: userData, maps: maps)
    }

    /// Prepares a decoded program, adding the interpreter's superinstructions to its copy.
    package init(_ program: DecodedProgram, userData: UnsafeMutableRawPointer? = nil, maps: [BPFMap] = []) {
        let table = program.helpers
        var decoded = program.decoded
        Predecoder.fuse(&decoded, directMapLookup: table.builtInMapLookup, arrays: ArrayLayout.of(maps))
        self.instructions = program.instructions
        code = .allocate(capacity: decoded.count)
        _ = code.initialize(from: decoded)
        helpers = UnsafeMutablePointer<HelperFunction?>.allocate(capacity: HelperTable.capacity)
        helpers.initialize(repeating: Optional<HelperFunction>.none, count: HelperTable.capacity)
        table.copy(into: helpers)
        registers = .allocate(capacity: 11)
        registers.initialize(repeating: 0, count: 11)
        frames = .allocate(capacity: BPFLimits.maxCallFrames)
        stack = .allocate(byteCount: Self.stackBytes, alignment: 16)
        helperContext = .allocate(capacity: 1)
        helperContext.initialize(to: HelperContext(userData: userData))
        entry = ProgramEntry.allocate(interpreterCode: UInt64(UInt(bitPattern: code.baseAddress)), nativeEntry: 0)
        callbackEntries = Set(
            program.instructions.indices.compactMap { i in
                let insn = program.instructions[i]
                return insn.isWide && insn.src == WideImmediateKind.function.rawValue ? i + 1 + Int(insn.imm) : nil
            })
        callbackKeys = .allocate(byteCount: Callbacks.keyBytes * Callbacks.maxNesting, alignment: 16)
        callbackKeys.initializeMemory(as: UInt8.self, repeating: 0, count: Callbacks.keyBytes * Callbacks.maxNesting)
        callbackNesting = .allocate(capacity: 1)
        callbackNesting.initialize(to: 0)
        helperContext.pointee.callbacks = Callbacks(
            engine: Unmanaged.passUnretained(self).toOpaque(), run: Self.callBack, keys: callbackKeys, nesting: callbackNesting)
    }

    deinit {
        code.deallocate()
        helpers.deallocate()
        registers.deallocate()
        frames.deallocate()
        stack.deallocate()
        helperContext.deallocate()
        entry.deallocate()
        callbackKeys.deallocate()
        callbackNesting.deallocate()
    }

    /// The state helpers see: the task they describe, the memory they may read, host data.
    public var helperContextValue: HelperContext {
        get { helperContext.pointee }
        set { helperContext.pointee = newValue }
    }

    /// The helper context itself, for a caller that sets its fields before each run.
    package var helperContextPointer: UnsafeMutablePointer<HelperContext> { helperContext }

    /// Runs the program with `r1` and `r2` as its arguments and returns r0.
    /// - Parameters:
    ///   - mode: ``ExecutionMode/fast`` (no checks) or ``ExecutionMode/checked(instructionLimit:)``.
    ///   - regions: the memory besides its stack the program may touch, for checked mode.
    public func run(_ r1: UInt64 = 0, _ r2: UInt64 = 0, mode: ExecutionMode = .fast, regions: [MemoryRegion] = []) throws(ExecutionError) -> UInt64 {
        switch mode {
        case .fast, .jit:
            return try execute(r1, r2, policy: FastPolicy())
        case let .checked(limit):
            // The keys bpf_for_each_map_elem shows callbacks are readable too.
            let keys = MemoryRegion(
                UnsafeMutableRawBufferPointer(start: callbackKeys, count: Callbacks.keyBytes * Callbacks.maxNesting), writable: false)
            return try (regions + [keys]).withUnsafeBufferPointer { (buffer) throws(ExecutionError) -> UInt64 in
                let top = UInt64(UInt(bitPattern: stack)) + UInt64(Self.stackBytes)
                let policy = CheckedPolicy(regions: buffer, stackTop: top, limit: limit, remaining: limit)
                checkedRun = policy
                defer { checkedRun = nil }
                return try execute(r1, r2, policy: policy)
            }
        }
    }

    /// Runs the program over `memory`, passing its address in r1 and its length in r2 (the
    /// convention of the BPF conformance suite); in checked mode `memory` is the one region
    /// the program may access besides its stack.
    public func run(memory: UnsafeMutableRawBufferPointer, mode: ExecutionMode = .fast) throws(ExecutionError) -> UInt64 {
        let base = UInt64(UInt(bitPattern: memory.baseAddress))
        return try run(base, UInt64(memory.count), mode: mode, regions: memory.count > 0 ? [MemoryRegion(memory)] : [])
    }

    struct Frame {
        var returnPC: Int
        var saved: (UInt64, UInt64, UInt64, UInt64)
        /// The program the caller runs (a tail call may have replaced the callee's).
        var code: UnsafePointer<DecodedInstruction>
    }

    /// What a program array slot holds for this program (see ``ProgramEntry``). Valid while
    /// the interpreter lives.
    public var entryHandle: UInt64 { UInt64(UInt(bitPattern: entry)) }

    /// Makes tail calls from JIT-compiled programs into this program continue at `address`,
    /// the native body of the same program compiled by ``JITProgram``.
    package func setNativeEntry(_ address: UInt64) { entry[1] = address }

    // MARK: - Callbacks

    /// ``Callbacks/run``: the interpreter at `engine` runs its function at `entry`.
    private static let callBack: CallbackFunction = { engine, entry, a1, a2, a3, a4 in
        Unmanaged<Interpreter>.fromOpaque(engine)._withUnsafeGuaranteedRef { $0.runCallback(entry: entry, a1, a2, a3, a4) }
    }

    /// Runs the function at instruction `entry` with r1–r4 as its arguments, as a call from the
    /// running program (in the frame below its caller's) or, when the caller is native code, on
    /// this interpreter's own stack; returns its r0. A failure is kept for the run loop to throw
    /// (or the native caller's runner to report) and gives 0.
    private func runCallback(entry: UInt64, _ a1: UInt64, _ a2: UInt64, _ a3: UInt64, _ a4: UInt64) -> UInt64 {
        guard callbackFailure == nil else { return 0 }
        guard entry < UInt64(code.count), callbackEntries.contains(Int(entry)) else {
            callbackFailure = ExecutionError(
                kind: .invalidHelperArgument(helper: 0, register: 2, reason: "\(entry) is not a function whose address the program takes"), pc: -1)
            return 0
        }
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 11) { saved in
            // The caller's registers, as they were at its helper call, come back afterwards.
            _ = saved.initialize(from: UnsafeBufferPointer(start: registers, count: 11))
            defer { registers.update(from: saved.baseAddress.unsafelyUnwrapped, count: 11) }
            return runCallback(at: Int(entry), a1, a2, a3, a4)
        }
    }

    private func runCallback(at entry: Int, _ a1: UInt64, _ a2: UInt64, _ a3: UInt64, _ a4: UInt64) -> UInt64 {
        let top = UInt64(UInt(bitPattern: stack)) + UInt64(Self.stackBytes)
        let callerFrame = isRunning ? Int((top - registers[10]) / UInt64(BPFLimits.stackSize)) : -1
        guard callerFrame + 1 < BPFLimits.maxCallFrames else {
            callbackFailure = ExecutionError(kind: .callDepthExceeded, pc: entry)
            return 0
        }
        registers.update(repeating: 0, count: 10)
        (registers[1], registers[2], registers[3], registers[4]) = (a1, a2, a3, a4)
        registers[10] = top - UInt64((callerFrame + 1) * BPFLimits.stackSize)
        let wasRunning = isRunning
        isRunning = true
        defer { isRunning = wasRunning }
        do {
            if let checked = checkedRun { return try loop(policy: checked, start: entry, frameBase: callerFrame + 1) }
            return try loop(policy: FastPolicy(), start: entry, frameBase: callerFrame + 1)
        } catch {
            callbackFailure = error
            return 0
        }
    }

    /// Whether the program takes functions' addresses (and so may be called back).
    package var callsBack: Bool { !callbackEntries.isEmpty }

    /// The failure of a callback made from native code (a JIT-compiled caller), taken once.
    package func takeCallbackFailure() -> ExecutionError? {
        defer { callbackFailure = nil }
        return callbackFailure
    }

    // MARK: - The run loop

    // Not inlined: each policy's specialization gets a function, and a code layout, of its own.
    private func execute<P: AccessPolicy>(_ r1: UInt64, _ r2: UInt64, policy: P) throws(ExecutionError) -> UInt64 {
        // Every run starts from the same registers: nothing of an earlier run is visible.
        registers.update(repeating: 0, count: 10)
        registers[1] = r1
        registers[2] = r2
        registers[10] = UInt64(UInt(bitPattern: stack)) + UInt64(Self.stackBytes)
        isRunning = true
        defer { isRunning = false }
        return try loop(policy: policy, start: 0, frameBase: 0)
    }

    /// The run loop from instruction `start` with the registers as they are, in call frame
    /// `frameBase`; an `exit` there returns.
    @inline(never)
    private func loop<P: AccessPolicy>(policy initial: P, start: Int, frameBase: Int) throws(ExecutionError) -> UInt64 {
        var policy = initial
        var code = UnsafePointer(self.code.baseAddress.unsafelyUnwrapped)
        var tailCalls = 0
        let reg = registers
        let helpers = self.helpers
        let frames = self.frames
        let context = helperContextRaw
        var depth = frameBase
        var ip = code + start

        while true {
            guard policy.tick() else { throw ExecutionError(kind: .instructionLimitExceeded(policy.limit), pc: ip - code) }
            let insn = ip.pointee
            let d = Int(insn.dst)
            let s = Int(insn.src)
            let imm = insn.imm
            let uimm = UInt64(bitPattern: imm)
            ip += 1
            switch insn.op {
            // MARK: 64-bit ALU
            case .add64i: reg[d] = reg[d] &+ uimm
            case .add64r: reg[d] = reg[d] &+ reg[s]
            case .sub64i: reg[d] = reg[d] &- uimm
            case .sub64r: reg[d] = reg[d] &- reg[s]
            case .mul64i: reg[d] = reg[d] &* uimm
            case .mul64r: reg[d] = reg[d] &* reg[s]
            case .div64i: reg[d] = reg[d] / uimm
            case .div64r: reg[d] = reg[s] == 0 ? 0 : reg[d] / reg[s]
            case .sdiv64i: reg[d] = sdiv64(reg[d], uimm)
            case .sdiv64r: reg[d] = sdiv64(reg[d], reg[s])
            case .mod64i: reg[d] = reg[d] % uimm
            case .mod64r: if reg[s] != 0 { reg[d] = reg[d] % reg[s] }
            case .smod64i: reg[d] = smod64(reg[d], uimm)
            case .smod64r: reg[d] = smod64(reg[d], reg[s])
            case .or64i: reg[d] = reg[d] | uimm
            case .or64r: reg[d] = reg[d] | reg[s]
            case .and64i: reg[d] = reg[d] & uimm
            case .and64r: reg[d] = reg[d] & reg[s]
            case .xor64i: reg[d] = reg[d] ^ uimm
            case .xor64r: reg[d] = reg[d] ^ reg[s]
            case .lsh64i: reg[d] = reg[d] &<< uimm
            case .lsh64r: reg[d] = reg[d] &<< reg[s]
            case .rsh64i: reg[d] = reg[d] &>> uimm
            case .rsh64r: reg[d] = reg[d] &>> reg[s]
            case .arsh64i: reg[d] = UInt64(bitPattern: Int64(bitPattern: reg[d]) &>> imm)
            case .arsh64r: reg[d] = UInt64(bitPattern: Int64(bitPattern: reg[d]) &>> Int64(bitPattern: reg[s]))
            case .mov64i: reg[d] = uimm
            case .mov64r: reg[d] = reg[s]
            case .neg64: reg[d] = 0 &- reg[d]
            case .movsx8to64: reg[d] = UInt64(bitPattern: Int64(Int8(truncatingIfNeeded: reg[s])))
            case .movsx16to64: reg[d] = UInt64(bitPattern: Int64(Int16(truncatingIfNeeded: reg[s])))
            case .movsx32to64: reg[d] = UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: reg[s])))

            // MARK: 32-bit ALU
            case .add32i: reg[d] = UInt64(lo(reg[d]) &+ lo(uimm))
            case .add32r: reg[d] = UInt64(lo(reg[d]) &+ lo(reg[s]))
            case .sub32i: reg[d] = UInt64(lo(reg[d]) &- lo(uimm))
            case .sub32r: reg[d] = UInt64(lo(reg[d]) &- lo(reg[s]))
            case .mul32i: reg[d] = UInt64(lo(reg[d]) &* lo(uimm))
            case .mul32r: reg[d] = UInt64(lo(reg[d]) &* lo(reg[s]))
            case .div32i: reg[d] = UInt64(lo(reg[d]) / lo(uimm))
            case .div32r: reg[d] = lo(reg[s]) == 0 ? 0 : UInt64(lo(reg[d]) / lo(reg[s]))
            case .sdiv32i: reg[d] = sdiv32(reg[d], uimm)
            case .sdiv32r: reg[d] = sdiv32(reg[d], reg[s])
            case .mod32i: reg[d] = UInt64(lo(reg[d]) % lo(uimm))
            case .mod32r: reg[d] = lo(reg[s]) == 0 ? UInt64(lo(reg[d])) : UInt64(lo(reg[d]) % lo(reg[s]))
            case .smod32i: reg[d] = smod32(reg[d], uimm)
            case .smod32r: reg[d] = smod32(reg[d], reg[s])
            case .or32i: reg[d] = UInt64(lo(reg[d]) | lo(uimm))
            case .or32r: reg[d] = UInt64(lo(reg[d]) | lo(reg[s]))
            case .and32i: reg[d] = UInt64(lo(reg[d]) & lo(uimm))
            case .and32r: reg[d] = UInt64(lo(reg[d]) & lo(reg[s]))
            case .xor32i: reg[d] = UInt64(lo(reg[d]) ^ lo(uimm))
            case .xor32r: reg[d] = UInt64(lo(reg[d]) ^ lo(reg[s]))
            case .lsh32i: reg[d] = UInt64(lo(reg[d]) &<< lo(uimm))
            case .lsh32r: reg[d] = UInt64(lo(reg[d]) &<< lo(reg[s]))
            case .rsh32i: reg[d] = UInt64(lo(reg[d]) &>> lo(uimm))
            case .rsh32r: reg[d] = UInt64(lo(reg[d]) &>> lo(reg[s]))
            case .arsh32i: reg[d] = UInt64(UInt32(bitPattern: Int32(bitPattern: lo(reg[d])) &>> Int32(bitPattern: lo(uimm))))
            case .arsh32r: reg[d] = UInt64(UInt32(bitPattern: Int32(bitPattern: lo(reg[d])) &>> Int32(bitPattern: lo(reg[s]))))
            case .mov32i: reg[d] = UInt64(lo(uimm))
            case .mov32r: reg[d] = UInt64(lo(reg[s]))
            case .neg32: reg[d] = UInt64(0 &- lo(reg[d]))
            case .movsx8to32: reg[d] = UInt64(UInt32(bitPattern: Int32(Int8(truncatingIfNeeded: reg[s]))))
            case .movsx16to32: reg[d] = UInt64(UInt32(bitPattern: Int32(Int16(truncatingIfNeeded: reg[s]))))

            // MARK: byte order
            case .zext16: reg[d] = reg[d] & 0xffff
            case .zext32: reg[d] = reg[d] & 0xffff_ffff
            case .nop: break
            case .swap16: reg[d] = UInt64(UInt16(truncatingIfNeeded: reg[d]).byteSwapped)
            case .swap32: reg[d] = UInt64(UInt32(truncatingIfNeeded: reg[d]).byteSwapped)
            case .swap64: reg[d] = reg[d].byteSwapped

            // MARK: loads and stores
            case .ldxb:
                let a = reg[s] &+ UInt64(bitPattern: Int64(insn.offset)); try access(policy, a, 1, false, reg[10], ip - code - 1)
                reg[d] = UInt64(raw(a).load(as: UInt8.self))
            case .ldxh:
                let a = reg[s] &+ UInt64(bitPattern: Int64(insn.offset)); try access(policy, a, 2, false, reg[10], ip - code - 1)
                reg[d] = UInt64(raw(a).loadUnaligned(as: UInt16.self))
            case .ldxw:
                let a = reg[s] &+ UInt64(bitPattern: Int64(insn.offset)); try access(policy, a, 4, false, reg[10], ip - code - 1)
                reg[d] = UInt64(raw(a).loadUnaligned(as: UInt32.self))
            case .ldxdw:
                let a = reg[s] &+ UInt64(bitPattern: Int64(insn.offset)); try access(policy, a, 8, false, reg[10], ip - code - 1)
                reg[d] = raw(a).loadUnaligned(as: UInt64.self)
            case .ldxsb:
                let a = reg[s] &+ UInt64(bitPattern: Int64(insn.offset)); try access(policy, a, 1, false, reg[10], ip - code - 1)
                reg[d] = UInt64(bitPattern: Int64(raw(a).load(as: Int8.self)))
            case .ldxsh:
                let a = reg[s] &+ UInt64(bitPattern: Int64(insn.offset)); try access(policy, a, 2, false, reg[10], ip - code - 1)
                reg[d] = UInt64(bitPattern: Int64(raw(a).loadUnaligned(as: Int16.self)))
            case .ldxsw:
                let a = reg[s] &+ UInt64(bitPattern: Int64(insn.offset)); try access(policy, a, 4, false, reg[10], ip - code - 1)
                reg[d] = UInt64(bitPattern: Int64(raw(a).loadUnaligned(as: Int32.self)))
            case .stb:
                let a = reg[d] &+ UInt64(bitPattern: Int64(insn.offset)); try access(policy, a, 1, true, reg[10], ip - code - 1)
                raw(a).storeBytes(of: UInt8(truncatingIfNeeded: imm), as: UInt8.self)
            case .sth:
                let a = reg[d] &+ UInt64(bitPattern: Int64(insn.offset)); try access(policy, a, 2, true, reg[10], ip - code - 1)
                raw(a).storeBytes(of: UInt16(truncatingIfNeeded: imm), as: UInt16.self)
            case .stw:
                let a = reg[d] &+ UInt64(bitPattern: Int64(insn.offset)); try access(policy, a, 4, true, reg[10], ip - code - 1)
                raw(a).storeBytes(of: UInt32(truncatingIfNeeded: imm), as: UInt32.self)
            case .stdw:
                let a = reg[d] &+ UInt64(bitPattern: Int64(insn.offset)); try access(policy, a, 8, true, reg[10], ip - code - 1)
                raw(a).storeBytes(of: uimm, as: UInt64.self)
            case .stxb:
                let a = reg[d] &+ UInt64(bitPattern: Int64(insn.offset)); try access(policy, a, 1, true, reg[10], ip - code - 1)
                raw(a).storeBytes(of: UInt8(truncatingIfNeeded: reg[s]), as: UInt8.self)
            case .stxh:
                let a = reg[d] &+ UInt64(bitPattern: Int64(insn.offset)); try access(policy, a, 2, true, reg[10], ip - code - 1)
                raw(a).storeBytes(of: UInt16(truncatingIfNeeded: reg[s]), as: UInt16.self)
            case .stxw:
                let a = reg[d] &+ UInt64(bitPattern: Int64(insn.offset)); try access(policy, a, 4, true, reg[10], ip - code - 1)
                raw(a).storeBytes(of: UInt32(truncatingIfNeeded: reg[s]), as: UInt32.self)
            case .stxdw:
                let a = reg[d] &+ UInt64(bitPattern: Int64(insn.offset)); try access(policy, a, 8, true, reg[10], ip - code - 1)
                raw(a).storeBytes(of: reg[s], as: UInt64.self)

            // MARK: atomics
            case .atomicAdd32, .atomicOr32, .atomicAnd32, .atomicXor32, .fetchAdd32, .fetchOr32, .fetchAnd32, .fetchXor32, .xchg32, .cmpxchg32:
                let a = reg[d] &+ UInt64(bitPattern: Int64(insn.offset)); try access(policy, a, 4, true, reg[10], ip - code - 1)
                atomic32(insn.op, raw(a), reg, s)
            case .atomicAdd64, .atomicOr64, .atomicAnd64, .atomicXor64, .fetchAdd64, .fetchOr64, .fetchAnd64, .fetchXor64, .xchg64, .cmpxchg64:
                let a = reg[d] &+ UInt64(bitPattern: Int64(insn.offset)); try access(policy, a, 8, true, reg[10], ip - code - 1)
                atomic64(insn.op, raw(a), reg, s)

            case .lddw:
                reg[d] = uimm
                ip += 1

            // MARK: legacy packet access through the socket buffer in r6
            case .ldabsb, .ldabsh, .ldabsw, .ldindb, .ldindh, .ldindw:
                let size: Int
                switch insn.op {
                case .ldabsb, .ldindb: size = 1
                case .ldabsh, .ldindh: size = 2
                default: size = 4
                }
                var offset = imm
                if insn.op == .ldindb || insn.op == .ldindh || insn.op == .ldindw { offset &+= Int64(Int32(truncatingIfNeeded: reg[s])) }
                try access(policy, reg[6], MemoryLayout<SocketBufferContext>.size, false, reg[10], ip - code - 1)
                let skb = raw(reg[6]).assumingMemoryBound(to: SocketBufferContext.self)
                // Out of the packet: the program ends and returns 0, as in the kernel.
                guard let address = skb.pointee.legacyLoadAddress(offset: offset, size: size) else { return 0 }
                let p = raw(address)
                switch size {
                case 1: reg[0] = UInt64(p.load(as: UInt8.self))
                case 2: reg[0] = UInt64(UInt16(bigEndian: p.loadUnaligned(as: UInt16.self)))
                default: reg[0] = UInt64(UInt32(bigEndian: p.loadUnaligned(as: UInt32.self)))
                }
                for r in 1...5 { reg[r] = 0 }  // like a call, it clobbers r1-r5

            // MARK: jumps
            case .ja: ip = code + Int(insn.offset)
            case .jeq64i: if reg[d] == uimm { ip = code + Int(insn.offset) }
            case .jeq64r: if reg[d] == reg[s] { ip = code + Int(insn.offset) }
            case .jgt64i: if reg[d] > uimm { ip = code + Int(insn.offset) }
            case .jgt64r: if reg[d] > reg[s] { ip = code + Int(insn.offset) }
            case .jge64i: if reg[d] >= uimm { ip = code + Int(insn.offset) }
            case .jge64r: if reg[d] >= reg[s] { ip = code + Int(insn.offset) }
            case .jset64i: if reg[d] & uimm != 0 { ip = code + Int(insn.offset) }
            case .jset64r: if reg[d] & reg[s] != 0 { ip = code + Int(insn.offset) }
            case .jne64i: if reg[d] != uimm { ip = code + Int(insn.offset) }
            case .jne64r: if reg[d] != reg[s] { ip = code + Int(insn.offset) }
            case .jsgt64i: if Int64(bitPattern: reg[d]) > imm { ip = code + Int(insn.offset) }
            case .jsgt64r: if Int64(bitPattern: reg[d]) > Int64(bitPattern: reg[s]) { ip = code + Int(insn.offset) }
            case .jsge64i: if Int64(bitPattern: reg[d]) >= imm { ip = code + Int(insn.offset) }
            case .jsge64r: if Int64(bitPattern: reg[d]) >= Int64(bitPattern: reg[s]) { ip = code + Int(insn.offset) }
            case .jlt64i: if reg[d] < uimm { ip = code + Int(insn.offset) }
            case .jlt64r: if reg[d] < reg[s] { ip = code + Int(insn.offset) }
            case .jle64i: if reg[d] <= uimm { ip = code + Int(insn.offset) }
            case .jle64r: if reg[d] <= reg[s] { ip = code + Int(insn.offset) }
            case .jslt64i: if Int64(bitPattern: reg[d]) < imm { ip = code + Int(insn.offset) }
            case .jslt64r: if Int64(bitPattern: reg[d]) < Int64(bitPattern: reg[s]) { ip = code + Int(insn.offset) }
            case .jsle64i: if Int64(bitPattern: reg[d]) <= imm { ip = code + Int(insn.offset) }
            case .jsle64r: if Int64(bitPattern: reg[d]) <= Int64(bitPattern: reg[s]) { ip = code + Int(insn.offset) }
            case .jeq32i: if lo(reg[d]) == lo(uimm) { ip = code + Int(insn.offset) }
            case .jeq32r: if lo(reg[d]) == lo(reg[s]) { ip = code + Int(insn.offset) }
            case .jgt32i: if lo(reg[d]) > lo(uimm) { ip = code + Int(insn.offset) }
            case .jgt32r: if lo(reg[d]) > lo(reg[s]) { ip = code + Int(insn.offset) }
            case .jge32i: if lo(reg[d]) >= lo(uimm) { ip = code + Int(insn.offset) }
            case .jge32r: if lo(reg[d]) >= lo(reg[s]) { ip = code + Int(insn.offset) }
            case .jset32i: if lo(reg[d]) & lo(uimm) != 0 { ip = code + Int(insn.offset) }
            case .jset32r: if lo(reg[d]) & lo(reg[s]) != 0 { ip = code + Int(insn.offset) }
            case .jne32i: if lo(reg[d]) != lo(uimm) { ip = code + Int(insn.offset) }
            case .jne32r: if lo(reg[d]) != lo(reg[s]) { ip = code + Int(insn.offset) }
            case .jsgt32i: if slo(reg[d]) > slo(uimm) { ip = code + Int(insn.offset) }
            case .jsgt32r: if slo(reg[d]) > slo(reg[s]) { ip = code + Int(insn.offset) }
            case .jsge32i: if slo(reg[d]) >= slo(uimm) { ip = code + Int(insn.offset) }
            case .jsge32r: if slo(reg[d]) >= slo(reg[s]) { ip = code + Int(insn.offset) }
            case .jlt32i: if lo(reg[d]) < lo(uimm) { ip = code + Int(insn.offset) }
            case .jlt32r: if lo(reg[d]) < lo(reg[s]) { ip = code + Int(insn.offset) }
            case .jle32i: if lo(reg[d]) <= lo(uimm) { ip = code + Int(insn.offset) }
            case .jle32r: if lo(reg[d]) <= lo(reg[s]) { ip = code + Int(insn.offset) }
            case .jslt32i: if slo(reg[d]) < slo(uimm) { ip = code + Int(insn.offset) }
            case .jslt32r: if slo(reg[d]) < slo(reg[s]) { ip = code + Int(insn.offset) }
            case .jsle32i: if slo(reg[d]) <= slo(uimm) { ip = code + Int(insn.offset) }
            case .jsle32r: if slo(reg[d]) <= slo(reg[s]) { ip = code + Int(insn.offset) }

            // MARK: calls
            case .call:
                try checkCall(policy, Int32(truncatingIfNeeded: imm), reg, helperContext, ip - code - 1)
                guard let helper = helpers[Int(imm)] else {  // a tail-called program may name helpers this table lacks
                    throw ExecutionError(kind: .unknownHelper(imm), pc: ip - code - 1)
                }
                reg[0] = helper(reg[1], reg[2], reg[3], reg[4], reg[5], context)
                if var failure = callbackFailure {
                    callbackFailure = nil
                    if failure.pc < 0 { failure.pc = ip - code - 1 }
                    throw failure
                }
            case .lddwCall:
                reg[d] = uimm
                let id = insn.offset
                ip += 2  // past the lddw's second slot and the call
                try checkCall(policy, id, reg, helperContext, ip - code - 1)
                guard let helper = helpers[Int(id)] else { throw ExecutionError(kind: .unknownHelper(Int64(id)), pc: ip - code - 1) }
                reg[0] = helper(reg[1], reg[2], reg[3], reg[4], reg[5], context)
            case .mapLookup:
                reg[d] = uimm
                ip += 2
                try checkCall(policy, 1, reg, helperContext, ip - code - 1)
                reg[0] = MapHelpers.lookup(reg[1], reg[2])
            case .mapLookupBranch:
                reg[d] = uimm
                try checkCall(policy, 1, reg, helperContext, ip - code + 1)
                let found = MapHelpers.lookup(reg[1], reg[2])
                reg[0] = found
                ip += 3  // a branch, not a select: the next dispatch need not wait for the lookup
                if (found == 0) == (s == 0) { ip = code + Int(insn.offset) }
            case .arrayLookup, .arrayLookupBranch:
                reg[d] = uimm
                try checkCall(policy, 1, reg, helperContext, ip - code + 1)
                let layout = ip.pointee  // the lddw's second slot
                let index = UInt64(raw(reg[2]).loadUnaligned(as: UInt32.self))
                let found =
                    index < UInt64(UInt32(bitPattern: layout.offset))
                    ? UInt64(bitPattern: layout.imm) &+ index &* (UInt64(layout.dst) | UInt64(layout.src) << 8) : 0
                reg[0] = found
                if insn.op == .arrayLookup {
                    ip += 2
                } else {
                    ip += 3
                    if (found == 0) == (s == 0) { ip = code + Int(insn.offset) }
                }
            case .callx:
                let id = Int64(bitPattern: reg[d])
                guard id >= 0, id < Int64(HelperTable.capacity), let helper = helpers[Int(id)] else {
                    throw ExecutionError(kind: .unknownHelper(id), pc: ip - code - 1)
                }
                try checkCall(policy, Int32(id), reg, helperContext, ip - code - 1)
                reg[0] = helper(reg[1], reg[2], reg[3], reg[4], reg[5], context)
            case .callLocal:
                guard depth + 1 < BPFLimits.maxCallFrames else { throw ExecutionError(kind: .callDepthExceeded, pc: ip - code - 1) }
                frames[depth] = Frame(returnPC: ip - code, saved: (reg[6], reg[7], reg[8], reg[9]), code: code)
                depth += 1
                reg[10] = reg[10] &- UInt64(BPFLimits.stackSize)
                ip = code + Int(insn.offset)
            case .exit:
                if depth == frameBase { return reg[0] }
                depth -= 1
                let frame = frames[depth]
                (reg[6], reg[7], reg[8], reg[9]) = frame.saved
                reg[10] = reg[10] &+ UInt64(BPFLimits.stackSize)
                code = frame.code
                ip = code + frame.returnPC

            case .tailCall:
                // bpf_tail_call(ctx, prog_array, index): continue in the slot's program, in this
                // frame, at most 33 times a run; an empty slot or the limit falls through.
                try checkCall(policy, 12, reg, helperContext, ip - code - 1)
                let targetCode = ProgramEntry.target(map: reg[2], index: reg[3], .interpreterCode)
                if targetCode != 0, tailCalls < BPFLimits.maxTailCalls {
                    tailCalls += 1
                    code = UnsafePointer(bitPattern: UInt(targetCode)).unsafelyUnwrapped
                    ip = code
                }

            // MARK: superinstructions (a counter update in memory; skip the add's and store's slots)
            case .addToMemory64i:
                let a = reg[s] &+ UInt64(bitPattern: Int64(insn.offset))
                try access(policy, a, 8, false, reg[10], ip - code - 1)
                try access(policy, a, 8, true, reg[10], ip - code + 1)  // the store's slot
                let v = raw(a).loadUnaligned(as: UInt64.self) &+ uimm
                reg[d] = v
                raw(a).storeBytes(of: v, as: UInt64.self)
                ip += 2
            case .addToMemory32i:
                let a = reg[s] &+ UInt64(bitPattern: Int64(insn.offset))
                try access(policy, a, 4, false, reg[10], ip - code - 1)
                try access(policy, a, 4, true, reg[10], ip - code + 1)  // the store's slot
                let v = raw(a).loadUnaligned(as: UInt32.self) &+ lo(uimm)
                reg[d] = UInt64(v)
                raw(a).storeBytes(of: v, as: UInt32.self)
                ip += 2

            // MARK: superinstructions (a store, then a key's address; skip the mov's and add's slots)
            case .stxwAddress:
                let a = reg[d] &+ UInt64(bitPattern: Int64(insn.offset)); try access(policy, a, 4, true, reg[10], ip - code - 1)
                raw(a).storeBytes(of: UInt32(truncatingIfNeeded: reg[s]), as: UInt32.self)
                reg[Int(imm >> 32)] = reg[d] &+ low(imm)
                ip += 2
            case .stxdwAddress:
                let a = reg[d] &+ UInt64(bitPattern: Int64(insn.offset)); try access(policy, a, 8, true, reg[10], ip - code - 1)
                raw(a).storeBytes(of: reg[s], as: UInt64.self)
                reg[Int(imm >> 32)] = reg[d] &+ low(imm)
                ip += 2

            // MARK: superinstructions (add, then compare and jump; skip the jump's slot)
            case .addJeq64i: let v = reg[d] &+ low(imm); reg[d] = v; ip += 1; if v == high(imm) { ip = code + Int(insn.offset) }
            case .addJne64i: let v = reg[d] &+ low(imm); reg[d] = v; ip += 1; if v != high(imm) { ip = code + Int(insn.offset) }
            case .addJlt64i: let v = reg[d] &+ low(imm); reg[d] = v; ip += 1; if v < high(imm) { ip = code + Int(insn.offset) }
            case .addJgt64i: let v = reg[d] &+ low(imm); reg[d] = v; ip += 1; if v > high(imm) { ip = code + Int(insn.offset) }
            case .addJeq32i: let v = lo(reg[d]) &+ lo(uimm); reg[d] = UInt64(v); ip += 1; if v == lo(high(imm)) { ip = code + Int(insn.offset) }
            case .addJne32i: let v = lo(reg[d]) &+ lo(uimm); reg[d] = UInt64(v); ip += 1; if v != lo(high(imm)) { ip = code + Int(insn.offset) }
            case .addJlt32i: let v = lo(reg[d]) &+ lo(uimm); reg[d] = UInt64(v); ip += 1; if v < lo(high(imm)) { ip = code + Int(insn.offset) }
            case .addJgt32i: let v = lo(reg[d]) &+ lo(uimm); reg[d] = UInt64(v); ip += 1; if v > lo(high(imm)) { ip = code + Int(insn.offset) }

            // MARK: superinstructions (mov + op; skip the op's own slot)
            case .movAdd64i: reg[d] = reg[s] &+ uimm; ip += 1
            case .movSub64i: reg[d] = reg[s] &- uimm; ip += 1
            case .movMul64i: reg[d] = reg[s] &* uimm; ip += 1
            case .movOr64i: reg[d] = reg[s] | uimm; ip += 1
            case .movAnd64i: reg[d] = reg[s] & uimm; ip += 1
            case .movXor64i: reg[d] = reg[s] ^ uimm; ip += 1
            case .movLsh64i: reg[d] = reg[s] &<< uimm; ip += 1
            case .movRsh64i: reg[d] = reg[s] &>> uimm; ip += 1
            case .movArsh64i: reg[d] = UInt64(bitPattern: Int64(bitPattern: reg[s]) &>> imm); ip += 1
            case .movAdd64r: reg[d] = reg[s] &+ reg[Int(insn.offset)]; ip += 1
            case .movSub64r: reg[d] = reg[s] &- reg[Int(insn.offset)]; ip += 1
            case .movMul64r: reg[d] = reg[s] &* reg[Int(insn.offset)]; ip += 1
            case .movOr64r: reg[d] = reg[s] | reg[Int(insn.offset)]; ip += 1
            case .movAnd64r: reg[d] = reg[s] & reg[Int(insn.offset)]; ip += 1
            case .movXor64r: reg[d] = reg[s] ^ reg[Int(insn.offset)]; ip += 1
            case .movLsh64r: reg[d] = reg[s] &<< reg[Int(insn.offset)]; ip += 1
            case .movRsh64r: reg[d] = reg[s] &>> reg[Int(insn.offset)]; ip += 1
            case .movAdd32i: reg[d] = UInt64(lo(reg[s]) &+ lo(uimm)); ip += 1
            case .movSub32i: reg[d] = UInt64(lo(reg[s]) &- lo(uimm)); ip += 1
            case .movMul32i: reg[d] = UInt64(lo(reg[s]) &* lo(uimm)); ip += 1
            case .movOr32i: reg[d] = UInt64(lo(reg[s]) | lo(uimm)); ip += 1
            case .movAnd32i: reg[d] = UInt64(lo(reg[s]) & lo(uimm)); ip += 1
            case .movXor32i: reg[d] = UInt64(lo(reg[s]) ^ lo(uimm)); ip += 1
            case .movLsh32i: reg[d] = UInt64(lo(reg[s]) &<< lo(uimm)); ip += 1
            case .movRsh32i: reg[d] = UInt64(lo(reg[s]) &>> lo(uimm)); ip += 1
            case .movArsh32i: reg[d] = UInt64(UInt32(bitPattern: Int32(bitPattern: lo(reg[s])) &>> Int32(bitPattern: lo(uimm)))); ip += 1
            }
        }
    }
}

// MARK: - Memory

@inline(__always) private func raw(_ address: UInt64) -> UnsafeMutableRawPointer {
    UnsafeMutableRawPointer(bitPattern: UInt(truncatingIfNeeded: address)).unsafelyUnwrapped
}

/// Asks `policy` whether the access is allowed; `frame` is the current r10.
@inline(__always) private func access<P: AccessPolicy>(_ policy: P, _ address: UInt64, _ size: Int, _ write: Bool, _ frame: UInt64, _ pc: Int)
    throws(ExecutionError)
{
    guard policy.allows(address, size, write: write, frameLow: frame &- UInt64(BPFLimits.stackSize)) else {
        throw ExecutionError(kind: .memoryFault(address: address, size: size, write: write), pc: pc)
    }
}

/// Asks `policy` whether helper `id` may be called with these registers.
@inline(__always) private func checkCall<P: AccessPolicy>(
    _ policy: P, _ id: Int32, _ reg: UnsafeMutablePointer<UInt64>,
    _ context: UnsafeMutablePointer<HelperContext>, _ pc: Int
) throws(ExecutionError) {
    if let (register, reason) = policy.refusal(helper: id, reg, context, frameLow: reg[10] &- UInt64(BPFLimits.stackSize)) {
        throw ExecutionError(kind: .invalidHelperArgument(helper: id, register: register, reason: reason), pc: pc)
    }
}

// MARK: - Arithmetic with the kernel's edge cases

@inline(__always) private func lo(_ v: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: v) }
/// The two sign-extended 32-bit halves of a superinstruction's immediate.
@inline(__always) private func low(_ imm: Int64) -> UInt64 { UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: imm))) }
@inline(__always) private func high(_ imm: Int64) -> UInt64 { UInt64(bitPattern: imm >> 32) }
@inline(__always) private func slo(_ v: UInt64) -> Int32 { Int32(truncatingIfNeeded: v) }

/// Signed division: by zero gives 0, `INT64_MIN / -1` wraps to `INT64_MIN`.
@inline(__always) private func sdiv64(_ a: UInt64, _ b: UInt64) -> UInt64 {
    if b == 0 { return 0 }
    return UInt64(bitPattern: Int64(bitPattern: a).dividedReportingOverflow(by: Int64(bitPattern: b)).partialValue)
}

/// Signed modulo (sign of the dividend): by zero leaves the dividend, by -1 gives 0.
@inline(__always) private func smod64(_ a: UInt64, _ b: UInt64) -> UInt64 {
    if b == 0 { return a }
    return UInt64(bitPattern: Int64(bitPattern: a).remainderReportingOverflow(dividingBy: Int64(bitPattern: b)).partialValue)
}

@inline(__always) private func sdiv32(_ a: UInt64, _ b: UInt64) -> UInt64 {
    if lo(b) == 0 { return 0 }
    return UInt64(UInt32(bitPattern: slo(a).dividedReportingOverflow(by: slo(b)).partialValue))
}

@inline(__always) private func smod32(_ a: UInt64, _ b: UInt64) -> UInt64 {
    if lo(b) == 0 { return UInt64(lo(a)) }
    return UInt64(UInt32(bitPattern: slo(a).remainderReportingOverflow(dividingBy: slo(b)).partialValue))
}

@inline(__always) private func atomic32(_ op: Op, _ p: UnsafeMutableRawPointer, _ reg: UnsafeMutablePointer<UInt64>, _ s: Int) {
    let v = lo(reg[s])
    switch op {
    case .atomicAdd32: _ = cbpf_fetch_add32(p, v)
    case .atomicOr32: _ = cbpf_fetch_or32(p, v)
    case .atomicAnd32: _ = cbpf_fetch_and32(p, v)
    case .atomicXor32: _ = cbpf_fetch_xor32(p, v)
    case .fetchAdd32: reg[s] = UInt64(cbpf_fetch_add32(p, v))
    case .fetchOr32: reg[s] = UInt64(cbpf_fetch_or32(p, v))
    case .fetchAnd32: reg[s] = UInt64(cbpf_fetch_and32(p, v))
    case .fetchXor32: reg[s] = UInt64(cbpf_fetch_xor32(p, v))
    case .xchg32: reg[s] = UInt64(cbpf_xchg32(p, v))
    default: reg[0] = UInt64(cbpf_cmpxchg32(p, lo(reg[0]), v))  // cmpxchg32
    }
}

@inline(__always) private func atomic64(_ op: Op, _ p: UnsafeMutableRawPointer, _ reg: UnsafeMutablePointer<UInt64>, _ s: Int) {
    let v = reg[s]
    switch op {
    case .atomicAdd64: _ = cbpf_fetch_add64(p, v)
    case .atomicOr64: _ = cbpf_fetch_or64(p, v)
    case .atomicAnd64: _ = cbpf_fetch_and64(p, v)
    case .atomicXor64: _ = cbpf_fetch_xor64(p, v)
    case .fetchAdd64: reg[s] = cbpf_fetch_add64(p, v)
    case .fetchOr64: reg[s] = cbpf_fetch_or64(p, v)
    case .fetchAnd64: reg[s] = cbpf_fetch_and64(p, v)
    case .fetchXor64: reg[s] = cbpf_fetch_xor64(p, v)
    case .xchg64: reg[s] = cbpf_xchg64(p, v)
    default: reg[0] = cbpf_cmpxchg64(p, reg[0], v)  // cmpxchg64
    }
}

public import Synchronization
import CBPFShims
import BPFPlatform
import BPFMaps
import BPFVM
import BPFCore
import SwiftBPFProbes

/// A point in a host program where attached programs run: the userspace runtime's tracepoint.
///
/// The host declares it (``UserspaceRuntime/declareHook(_:arguments:results:)``) with up to five
/// 64-bit arguments, some of which may point to memory the host lends for the call; programs
/// attach to it through ``HookLink``s and run, in attach order, every time the host calls
/// ``fire(_:_:_:_:_:)``. With nothing attached a firing is one load and one branch.
///
/// A program sees the arguments as the kernel shows a raw tracepoint's
/// (`struct bpf_raw_tracepoint_args`, `SEC("raw_tp/NAME")`), or as a USDT probe's through
/// libbpf's `usdt.bpf.h` (`SEC("usdt")`, `BPF_USDT`, `bpf_usdt_arg`). Memory arguments are read
/// with `bpf_probe_read_user` (or `_kernel`, `_str`); reads outside what the host lent fail
/// with `-EFAULT` as a bad address does in the kernel.
///
/// Hosts fire from any number of threads at once. Each firing holds an execution slot (the
/// runtime's CPU: per-CPU maps give it its own value) and runs the programs attached when it
/// started: attaching, detaching and ``HookLink/update(program:)`` never make a firing run
/// a program twice, or neither the old nor the new one.
public final class Hook: @unchecked Sendable {
    /// One of a hook's arguments.
    public enum Argument: Sendable, Equatable {
        /// A 64-bit value.
        case value
        /// A pointer to a NUL-terminated string, lent (to its NUL) for the call.
        case string
        /// A pointer to `count` bytes, lent for the call.
        case bytes(count: Int)
        /// A pointer to as many bytes as argument number `lengthArgument` says, lent for the call.
        case sizedBytes(lengthArgument: Int)
    }

    /// How the programs' return values make the firing's result.
    public enum ResultRule: Sendable, Equatable {
        /// Every program runs; the result is 0 (a tracepoint's rule).
        case ignored
        /// Every program runs; the result is 1 when each returned 1, else 0 (a cgroup hook's
        /// rule: one refusal refuses). 1 with nothing attached.
        case everyAllows
        /// Programs run in order until one returns something other than `passing`, which is
        /// the result (tcx's rule, `TCX_NEXT` being the pass); `passing` when none does.
        case firstDecision(passing: UInt64)

        var emptyResult: UInt64 {
            switch self {
            case .ignored: 0
            case .everyAllows: 1
            case .firstDecision(let passing): passing
            }
        }
    }

    /// Its name: programs attach to it from `SEC("raw_tp/NAME")`, and for a hook made from a
    /// probe site (`PROVIDER:NAME`) from `SEC("usdt/BINARY:PROVIDER:NAME")` too.
    public let name: String
    /// What each argument is, in order.
    public let arguments: [Argument]
    /// How a firing's result is made of the programs' return values.
    public let results: ResultRule
    /// The probe site the hook is bound to, if it was declared from one.
    let site: UnsafeMutablePointer<swiftbpf_probe_site>?

    /// The attached programs: a retained ``Snapshot`` address, 0 when none.
    @usableFromInline let current = Atomic<UInt>(0)
    @usableFromInline let emptyResult: UInt64

    /// The bytes of context each slot has: the arguments, and room for `pt_regs` (a `usdt`
    /// program's context) on any architecture.
    static let contextBytes = 512
    private let slots: Int
    /// Per slot (64 bytes apart): the snapshot the slot's firing runs, for reclamation.
    private let hazards: UnsafeMutablePointer<UInt64>
    private let contexts: UnsafeMutableRawPointer
    private let regions: UnsafeMutablePointer<MemoryRegion>
    private let lendsMemory: Bool

    /// Only ever touched under ``state``'s lock.
    private struct Entry: @unchecked Sendable {
        var id: Int
        var program: UserspaceProgram
        var runners: [Runner]
    }
    private struct State {
        var entries: [Entry] = []
        var retired: [UInt] = []
        var nextID = 1
    }
    private let state = Mutex(State())

    init(name: String, arguments: [Argument], results: ResultRule, site: UnsafeMutablePointer<swiftbpf_probe_site>?) {
        self.name = name
        self.arguments = arguments
        self.results = results
        self.site = site
        emptyResult = results.emptyResult
        slots = ExecutionSlots.count
        hazards = .allocate(capacity: slots * 8)
        hazards.initialize(repeating: 0, count: slots * 8)
        contexts = .allocate(byteCount: slots * Self.contextBytes, alignment: 64)
        contexts.initializeMemory(as: UInt8.self, repeating: 0, count: slots * Self.contextBytes)
        regions = .allocate(capacity: slots * (1 + arguments.count))
        lendsMemory = arguments.contains { $0 != .value }
    }

    deinit {
        let state = state.withLock { $0 }
        for bits in state.retired + [current.load(ordering: .relaxed)] where bits != 0 {
            Unmanaged<Snapshot>.fromOpaque(UnsafeRawPointer(bitPattern: bits).unsafelyUnwrapped).release()
        }
        hazards.deallocate()
        contexts.deallocate()
        regions.deallocate()
    }

    /// Runs the attached programs with these arguments (those past ``arguments`` are ignored)
    /// and returns the result ``results`` makes of theirs.
    @inlinable @discardableResult
    public func fire(_ a0: UInt64 = 0, _ a1: UInt64 = 0, _ a2: UInt64 = 0, _ a3: UInt64 = 0, _ a4: UInt64 = 0) -> UInt64 {
        guard current.load(ordering: .relaxed) != 0 else { return emptyResult }
        let values = (a0, a1, a2, a3, a4)
        return withUnsafeBytes(of: values) { fireAttached($0.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: UInt64.self), count: 5) }
    }

    /// Whether any program is attached.
    public var isAttached: Bool { current.load(ordering: .relaxed) != 0 }

    /// The firing itself: a slot, the snapshot published for it, the context, the programs.
    @usableFromInline func fireAttached(_ values: UnsafePointer<UInt64>, count: Int) -> UInt64 {
        // A probe site enabled by the kernel alone calls here with nothing attached.
        guard current.load(ordering: .relaxed) != 0 else { return emptyResult }
        let (slot, nested) = ExecutionSlots.acquire()
        defer { if !nested { ExecutionSlots.release(slot) } }
        let hazard = hazards + slot * 8
        // Fired again from inside one of its own programs' runs on this thread (a host callback
        // such as trace output): skipped, as the kernel skips a program's recursive runs.
        if nested, hazard.pointee != 0 { return emptyResult }
        var bits: UInt
        repeat {
            bits = current.load(ordering: .acquiring)
            if bits == 0 { return emptyResult }
            _ = cbpf_xchg64(hazard, UInt64(bits))
        } while current.load(ordering: .sequentiallyConsistent) != bits
        defer { cbpf_store_release64(hazard, 0) }

        let context = contexts + slot * Self.contextBytes
        let slots = context.assumingMemoryBound(to: UInt64.self)
        let n = min(count, arguments.count)
        for i in 0..<arguments.count { slots[i] = i < n ? values[i] : 0 }  // a site may pass fewer
        let address = UInt64(UInt(bitPattern: context))
        let lent = regions + slot * (1 + arguments.count)
        lent[0] = MemoryRegion(start: address, length: UInt64(Self.contextBytes), writable: false)
        var regionCount = 1
        if lendsMemory { regionCount += lend(values, count: n, into: lent + 1) }
        let readable = UnsafeBufferPointer(start: UnsafePointer(lent), count: regionCount)
        return Unmanaged<Snapshot>.fromOpaque(UnsafeRawPointer(bitPattern: bits).unsafelyUnwrapped)._withUnsafeGuaranteedRef {
            $0.run(slot: slot, context: address, readable: readable, rule: results)
        }
    }

    /// The regions the memory arguments point to, written at `into`; returns their number.
    private func lend(_ values: UnsafePointer<UInt64>, count: Int, into: UnsafeMutablePointer<MemoryRegion>) -> Int {
        var written = 0
        for i in 0..<count where values[i] != 0 {
            let length: UInt64
            switch arguments[i] {
            case .value: continue
            case .string: length = UInt64(strlen(UnsafePointer<CChar>(bitPattern: UInt(values[i])).unsafelyUnwrapped)) + 1
            case .bytes(let count): length = UInt64(max(count, 0))
            case .sizedBytes(let argument):
                guard argument >= 0, argument < count else { continue }
                length = values[argument]
            }
            into[written] = MemoryRegion(start: values[i], length: length, writable: false)
            written += 1
        }
        return written
    }

    // MARK: - Attaching

    /// Adds `program` after those attached; returns the entry's id.
    func attach(_ program: UserspaceProgram, cookie: UInt64, mode: ExecutionMode?) throws(RuntimeError) -> Int {
        var entry = Entry(id: 0, program: program, runners: try makeRunners(program, cookie: cookie, mode: mode))
        return state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            entry.id = id
            state.entries.append(entry)
            publish(&state, wasAttached: state.entries.count > 1)
            return id
        }
    }

    /// Puts `program` in entry `id`'s place: firings from now on run it instead.
    func replace(_ id: Int, with program: UserspaceProgram, cookie: UInt64, mode: ExecutionMode?) throws(RuntimeError) {
        let entry = Entry(id: id, program: program, runners: try makeRunners(program, cookie: cookie, mode: mode))
        let name = program.name
        try state.withLock { (state) throws(RuntimeError) in
            guard let i = state.entries.firstIndex(where: { $0.id == id }) else {
                throw RuntimeError.cannotAttach(program: name, reason: "the link to hook \(self.name) was detached")
            }
            state.entries[i] = entry
            publish(&state, wasAttached: true)
        }
    }

    /// Removes entry `id` (nothing when it is gone already).
    func detach(_ id: Int) {
        state.withLock { state in
            guard let i = state.entries.firstIndex(where: { $0.id == id }) else { return }
            state.entries.remove(at: i)
            publish(&state, wasAttached: true)
        }
    }

    /// The program entry `id` runs, nil once detached.
    func program(of id: Int) -> UserspaceProgram? { state.withLock { $0.entries.first { $0.id == id }?.program } }

    /// The programs attached, in the order they run.
    public var programs: [UserspaceProgram] { state.withLock { $0.entries.map(\.program) } }

    private func makeRunners(_ program: UserspaceProgram, cookie: UInt64, mode: ExecutionMode?) throws(RuntimeError) -> [Runner] {
        let jit = (mode ?? program.defaultMode) == .jit && program.jit != nil
        var runners: [Runner] = []
        for _ in 0..<slots {
            do throws(PreparationError) {
                let (interpreter, compiled) = try program.instance(jitOptions: program.object?.jitOptions ?? .init())
                runners.append(Runner(program: program, interpreter: interpreter, jit: jit ? compiled : nil, cookie: cookie))
            } catch { throw .engine(program: program.name, error) }
        }
        return runners
    }

    /// Publishes the entries as the snapshot firings run; frees the snapshots no firing holds.
    private func publish(_ state: inout State, wasAttached: Bool) {
        let snapshot = state.entries.isEmpty ? 0 : UInt(bitPattern: Unmanaged.passRetained(Snapshot(state.entries.map(\.runners), slots: slots)).toOpaque())
        let old = current.exchange(snapshot, ordering: .sequentiallyConsistent)
        if old != 0 { state.retired.append(old) }
        state.retired.removeAll { bits in
            for s in 0..<slots where cbpf_load_seq_cst64(hazards + s * 8) == UInt64(bits) { return false }
            Unmanaged<Snapshot>.fromOpaque(UnsafeRawPointer(bitPattern: bits).unsafelyUnwrapped).release()
            return true
        }
        // A bound probe site is enabled while anything is attached here.
        if let site, wasAttached != !state.entries.isEmpty { swiftbpf_probe_enable(site, state.entries.isEmpty ? -1 : 1) }
    }
}

/// One program on one execution slot: its own engines and helper context.
final class Runner {
    let program: UserspaceProgram
    let interpreter: Interpreter
    let jit: JITProgram?
    let helper: UnsafeMutablePointer<HelperContext>
    let statistics: ProgramStatistics
    /// The engines again, for calls that neither retain nor release them (the properties
    /// above own them).
    private let nativeEngine: Unmanaged<JITProgram>?
    private let interpretingEngine: Unmanaged<Interpreter>

    init(program: UserspaceProgram, interpreter: Interpreter, jit: JITProgram?, cookie: UInt64) {
        self.program = program
        self.interpreter = interpreter
        self.jit = jit
        nativeEngine = jit.map { Unmanaged.passUnretained($0) }
        interpretingEngine = Unmanaged.passUnretained(interpreter)
        helper = jit?.helperContextPointer ?? interpreter.helperContextPointer
        helper.pointee.cookie = cookie
        statistics = program.statistics
    }

    @inline(__always) func run(slot: Int, context: UInt64, readable: UnsafeBufferPointer<MemoryRegion>) -> UInt64 {
        helper.pointee.readable = readable
        helper.pointee.contextAddress = context
        let counted = ProgramStatistics.enabled
        let start = counted ? monotonicNanoseconds() : 0
        // A verified program cannot fail; the engines' own limits (call depth) give 0.
        let r0 =
            if let nativeEngine {
                nativeEngine._withUnsafeGuaranteedRef { (try? $0.run(context)) ?? 0 }
            } else {
                interpretingEngine._withUnsafeGuaranteedRef { (try? $0.run(context)) ?? 0 }
            }
        if counted { statistics.record(slot: slot, nanoseconds: monotonicNanoseconds() &- start) }
        return r0
    }
}

/// The programs attached to a hook at one moment, each with a runner per slot (slot-major).
final class Snapshot {
    private let runners: UnsafeMutableBufferPointer<Unmanaged<Runner>>
    private let count: Int

    init(_ entries: [[Runner]], slots: Int) {
        count = entries.count
        runners = .allocate(capacity: slots * count)
        for slot in 0..<slots {
            for (i, entry) in entries.enumerated() { runners[slot * count + i] = Unmanaged.passRetained(entry[slot]) }
        }
    }

    deinit {
        for runner in runners { runner.release() }
        runners.deallocate()
    }

    @inline(__always) func run(slot: Int, context: UInt64, readable: UnsafeBufferPointer<MemoryRegion>, rule: Hook.ResultRule) -> UInt64 {
        let row = runners.baseAddress.unsafelyUnwrapped + slot * count
        var allow: UInt64 = 1
        for i in 0..<count {
            let r0 = row[i]._withUnsafeGuaranteedRef { $0.run(slot: slot, context: context, readable: readable) }
            switch rule {
            case .ignored: continue
            case .everyAllows: if r0 != 1 { allow = 0 }
            case .firstDecision(let passing): if r0 != passing { return r0 }
            }
        }
        return rule == .everyAllows ? allow : rule.emptyResult
    }
}

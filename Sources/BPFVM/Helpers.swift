public import BPFCore
import CBPFShims
import BPFPlatform

/// A helper function as every engine calls it: BPF r1–r5 are the C arguments, the result goes
/// to r0, and the last argument points to the running program's ``HelperContext`` — how a
/// helper reaches the program's runtime state (maps, ring buffers, host data) without globals.
/// Read it with ``HelperContext/at(_:)``.
///
/// Being `@convention(c)`, the same entry point serves the interpreter and JIT-compiled code.
public typealias HelperFunction =
    @convention(c) (
        UInt64, UInt64, UInt64, UInt64, UInt64, UnsafeMutableRawPointer
    ) -> UInt64

/// Negative errnos as helpers return them in r0.
enum HelperResult {
    static let einval = UInt64(bitPattern: -22)
    static let efault = UInt64(bitPattern: -14)
}

/// Per-execution state handed to every helper call.
public struct HelperContext {
    /// Host data attached to the program by the embedder.
    public var userData: UnsafeMutableRawPointer?
    /// The task the `get_current_*` helpers describe.
    public var task: TaskInfo = .current
    /// Memory the `probe_read*` helpers may read; anything else reads as `-EFAULT`.
    public var readable: UnsafeBufferPointer<MemoryRegion> = UnsafeBufferPointer(start: nil, count: 0)
    /// The program's ring buffers (``BPFMap`` addresses), which `ringbuf_submit`/`discard`
    /// search for the record they are given.
    public var ringBuffers: UnsafeBufferPointer<UInt64> = UnsafeBufferPointer(start: nil, count: 0)
    /// Every map the program uses (``BPFMap`` addresses): in checked mode a map argument must
    /// be one of them.
    public var maps: UnsafeBufferPointer<UInt64> = UnsafeBufferPointer(start: nil, count: 0)
    /// The address of the program's context for the current run (checked mode's `context`
    /// arguments must equal it).
    public var contextAddress: UInt64 = 0
    /// The run's redirect (`bpf_redirect`, `bpf_redirect_map`), cleared before each run.
    public var redirect = RedirectRecord()
    /// Where `bpf_trace_printk` (`bpf_printk`) lines go; nil drops them.
    public var trace: ((String) -> Void)?
    /// How `bpf_loop` and `bpf_for_each_map_elem` call the program's functions back.
    public var callbacks: Callbacks?
    /// What `bpf_get_attach_cookie` returns: the cookie of the link the program runs through.
    public var cookie: UInt64 = 0

    public init(userData: UnsafeMutableRawPointer? = nil) {
        self.userData = userData
    }

    /// The context behind a helper's last argument.
    @inlinable public static func at(_ raw: UnsafeMutableRawPointer) -> UnsafeMutablePointer<HelperContext> {
        raw.assumingMemoryBound(to: HelperContext.self)
    }
}

/// Helpers by kernel helper id (`enum bpf_func_id`): a fixed table of C function pointers,
/// looked up by index with no hashing on the call path.
public struct HelperTable: Sendable {
    /// Helper ids the table can hold; the kernel defines fewer than this.
    public static let capacity = 256

    private var functions: [HelperFunction?] = Array(repeating: nil, count: HelperTable.capacity)
    /// Whether helper 1 is SwiftBPF's own `bpf_map_lookup_elem`, which the interpreter may
    /// then call directly rather than through the table.
    package internal(set) var builtInMapLookup = false

    /// An empty table.
    public init() {}

    /// The helpers the userspace runtime provides for every program type.
    public static var standard: HelperTable {
        var table = HelperTable()
        table.register(.ktimeGetNs, StandardHelpers.ktimeGetNs)
        table.register(.getPrandomU32, StandardHelpers.getPrandomU32)
        table.register(.getSmpProcessorId, StandardHelpers.getSmpProcessorID)
        table.register(.ktimeGetBootNs, StandardHelpers.ktimeGetBootNs)
        table.register(.ktimeGetCoarseNs, StandardHelpers.ktimeGetCoarseNs)
        table.registerTaskHelpers()
        return table
    }

    /// Registers (or replaces) helper `id`.
    public mutating func register(_ id: HelperID, _ function: HelperFunction) {
        precondition(id.rawValue >= 0 && Int(id.rawValue) < Self.capacity, "helper id \(id.rawValue) out of range")
        functions[Int(id.rawValue)] = function
        if id == .mapLookupElem { builtInMapLookup = false }
    }

    /// Whether a helper with `id` is registered.
    public func contains(_ id: Int32) -> Bool {
        id >= 0 && Int(id) < Self.capacity && functions[Int(id)] != nil
    }

    /// The helper registered under `id`.
    public subscript(id: Int32) -> HelperFunction? {
        contains(id) ? functions[Int(id)] : nil
    }

    /// Copies the table into `buffer` (of ``capacity`` entries) for the run loop.
    func copy(into buffer: UnsafeMutablePointer<HelperFunction?>) {
        for (i, f) in functions.enumerated() { buffer[i] = f }
    }
}

/// The time, random and CPU helpers every program type may call.
enum StandardHelpers {
    static func clock(_ id: clockid_t) -> UInt64 {
        var ts = timespec()
        clock_gettime(id, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    static let ktimeGetNs: HelperFunction = { _, _, _, _, _, _ in clock(CLOCK_MONOTONIC) }
    #if os(Linux)
    static let ktimeGetBootNs: HelperFunction = { _, _, _, _, _, _ in clock(CLOCK_BOOTTIME) }
    static let ktimeGetCoarseNs: HelperFunction = { _, _, _, _, _, _ in clock(CLOCK_MONOTONIC_COARSE) }
    #else
    static let ktimeGetBootNs: HelperFunction = { _, _, _, _, _, _ in clock(CLOCK_MONOTONIC) }
    static let ktimeGetCoarseNs: HelperFunction = { _, _, _, _, _, _ in clock(CLOCK_MONOTONIC) }
    #endif
    static let getPrandomU32: HelperFunction = { _, _, _, _, _, _ in UInt64(UInt32.random(in: .min ... .max)) }
    static let getSmpProcessorID: HelperFunction = { _, _, _, _, _, _ in
        UInt64(cbpf_current_cpu())
    }
}

/// Runs a program's function (by its first instruction's index) with r1–r4, returning r0; the
/// engine is the first argument.
public typealias CallbackFunction = @convention(c) (UnsafeMutableRawPointer, UInt64, UInt64, UInt64, UInt64, UInt64) -> UInt64

/// The engine that runs a program's callbacks (its interpreter, also for JIT-compiled code).
public struct Callbacks {
    public var engine: UnsafeMutableRawPointer
    public var run: CallbackFunction
    /// Where `bpf_for_each_map_elem` puts the key it hands the callback: ``keyBytes`` bytes a
    /// nesting level, memory checked runs may read.
    public var keys: UnsafeMutableRawPointer
    /// How deep helpers that call back are nested now.
    public var nesting: UnsafeMutablePointer<Int>

    /// The largest key, and the deepest nesting, the key area holds.
    public static let keyBytes = 512, maxNesting = 8

    public init(engine: UnsafeMutableRawPointer, run: CallbackFunction, keys: UnsafeMutableRawPointer, nesting: UnsafeMutablePointer<Int>) {
        self.engine = engine
        self.run = run
        self.keys = keys
        self.nesting = nesting
    }

    @inline(__always) func call(_ entry: UInt64, _ a1: UInt64, _ a2: UInt64, _ a3: UInt64, _ a4: UInt64) -> UInt64 {
        run(engine, entry, a1, a2, a3, a4)
    }
}

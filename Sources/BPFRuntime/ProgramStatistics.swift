import CBPFShims
import BPFPlatform
import Synchronization

/// Run counts and run time of a program, as the kernel keeps them while `BPF_ENABLE_STATS`
/// is on (`run_cnt`, `run_time_ns`): counted only while a ``StatisticsToken`` lives, one
/// counter pair per execution slot so that threads never contend.
public final class ProgramStatistics: @unchecked Sendable {
    /// 64 bytes a slot: the run count, then the nanoseconds.
    private let counters: UnsafeMutablePointer<UInt64>
    private static let stride = 8

    init() {
        counters = .allocate(capacity: ExecutionSlots.count * Self.stride)
        counters.initialize(repeating: 0, count: ExecutionSlots.count * Self.stride)
    }

    deinit { counters.deallocate() }

    /// Runs counted so far.
    public var runCount: UInt64 { (0..<ExecutionSlots.count).reduce(0) { $0 &+ cbpf_load_acquire64(counters + $1 * Self.stride) } }
    /// Nanoseconds spent in counted runs.
    public var runNanoseconds: UInt64 { (0..<ExecutionSlots.count).reduce(0) { $0 &+ cbpf_load_acquire64(counters + $1 * Self.stride + 1) } }

    /// Counts a run of `nanoseconds` on `slot` (held by the caller).
    @inline(__always) func record(slot: Int, nanoseconds: UInt64) {
        let p = counters + slot * Self.stride
        cbpf_store_release64(p, p.pointee &+ 1)
        cbpf_store_release64(p + 1, p[1] &+ nanoseconds)
    }

    /// Whether runs are being counted: some ``StatisticsToken`` lives.
    @inline(__always) static var enabled: Bool { tokens.load(ordering: .relaxed) > 0 }
    static let tokens = Atomic<Int>(0)
}

/// While a token lives, the userspace runtime counts every program's runs and their time
/// (``ProgramStatistics``), as the kernel does while the descriptor `BPF_ENABLE_STATS` returned
/// is open; counting costs two clock reads a run.
public final class StatisticsToken: Sendable {
    /// Turns counting on until the token is released.
    public init() { ProgramStatistics.tokens.add(1, ordering: .sequentiallyConsistent) }
    deinit { ProgramStatistics.tokens.subtract(1, ordering: .sequentiallyConsistent) }
}

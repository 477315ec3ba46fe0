/// What the run loop checks on each memory access and instruction. The loop is generic over
/// it, so the fast policy compiles to no code at all and the checked one to inline tests.
protocol AccessPolicy {
    /// Whether `size` bytes at `address` may be accessed; `frameLow` is the lowest address of
    /// the current stack frame.
    func allows(_ address: UInt64, _ size: Int, write: Bool, frameLow: UInt64) -> Bool
    /// Counts one executed instruction; false when the budget is spent.
    mutating func tick() -> Bool
    /// The budget, for error reports.
    var limit: UInt64 { get }
}

struct FastPolicy: AccessPolicy {
    @inline(__always) func allows(_ address: UInt64, _ size: Int, write: Bool, frameLow: UInt64) -> Bool { true }
    @inline(__always) mutating func tick() -> Bool { true }
    var limit: UInt64 { .max }
}

struct CheckedPolicy: AccessPolicy {
    let regions: UnsafeBufferPointer<MemoryRegion>
    /// One past the highest stack address (the outermost frame's r10).
    let stackTop: UInt64
    let limit: UInt64
    var remaining: UInt64

    @inline(__always)
    func allows(_ address: UInt64, _ size: Int, write: Bool, frameLow: UInt64) -> Bool {
        // The live stack: from the current frame up to the outermost one (callers' frames stay
        // addressable, as pointers to them may be passed down).
        if MemoryRegion(start: frameLow, length: stackTop - frameLow, writable: true).contains(address, size) { return true }
        for region in regions where region.contains(address, size) {
            return !write || region.writable
        }
        return false
    }

    @inline(__always)
    mutating func tick() -> Bool {
        guard remaining > 0 else { return false }
        remaining -= 1
        return true
    }
}

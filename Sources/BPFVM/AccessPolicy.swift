import BPFCore

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
    /// Why helper `id` must not be called with these registers, or nil when it may.
    func refusal(helper id: Int32, _ reg: UnsafeMutablePointer<UInt64>, _ context: UnsafeMutablePointer<HelperContext>, frameLow: UInt64) -> (Int, String)?
}

struct FastPolicy: AccessPolicy {
    @inline(__always) func allows(_ address: UInt64, _ size: Int, write: Bool, frameLow: UInt64) -> Bool { true }
    @inline(__always) mutating func tick() -> Bool { true }
    var limit: UInt64 { .max }
    @inline(__always) func refusal(helper id: Int32, _ reg: UnsafeMutablePointer<UInt64>, _ context: UnsafeMutablePointer<HelperContext>, frameLow: UInt64) -> (
        Int, String
    )? { nil }
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

    /// Tests every argument against the helper's prototype: maps must be the program's,
    /// memory must lie in the program's regions for the size the prototype names, the context
    /// must be the run's. Helpers without a prototype (the embedder's own) are trusted.
    func refusal(helper id: Int32, _ reg: UnsafeMutablePointer<UInt64>, _ context: UnsafeMutablePointer<HelperContext>, frameLow: UInt64) -> (Int, String)? {
        guard let arguments = HelperPrototypes.arguments(of: id) else { return nil }
        func isMap(_ value: UInt64) -> Bool { context.pointee.maps.contains(value) }
        for (i, kind) in arguments.enumerated() {
            let r = i + 1, value = reg[r]
            switch kind {
            // Numbers; the record, kernel object and callback helpers check theirs.
            case .anything, .number, .size, .allocationSize, .record, .kernelObject, .callback, .stackPointer: continue
            case .map:
                guard isMap(value) else { return (r, "0x\(String(value, radix: 16)) is not one of the program's maps") }
            case .context:
                guard value == context.pointee.contextAddress else { return (r, "expected the program's context") }
            case .spinLock:
                guard value % 4 == 0, allows(value, 4, write: true, frameLow: frameLow) else {
                    return (r, "0x\(String(value, radix: 16)) is not a lock in the program's writable memory")
                }
            case .mapKey, .mapValue, .writableMapValue:
                guard isMap(reg[1]) else { return (1, "not one of the program's maps") }
                let shape = MapHelpers.map(reg[1]) { $0.shape }
                let size = kind == .mapKey ? shape.keySize : shape.valueSize
                let write = kind == .writableMapValue
                guard allows(value, size, write: write, frameLow: frameLow) else {
                    return (r, "\(size) bytes at 0x\(String(value, radix: 16)) are outside the program's memory")
                }
            case let .fixed(size, write, _):
                guard allows(value, size, write: write, frameLow: frameLow) else {
                    return (r, "\(size) bytes at 0x\(String(value, radix: 16)) are outside the program's \(write ? "writable " : "")memory")
                }
            case let .readable(sizeRegister), let .writable(sizeRegister), let .readableOrNull(sizeRegister):
                let size = reg[sizeRegister]
                guard size <= 1 << 20 else { return (sizeRegister, "size \(size) is too large") }
                if size == 0 { continue }
                var write = false
                if case .writable = kind { write = true }
                guard allows(value, Int(size), write: write, frameLow: frameLow) else {
                    return (r, "\(size) bytes at 0x\(String(value, radix: 16)) are outside the program's \(write ? "writable " : "")memory")
                }
            }
        }
        return nil
    }
}

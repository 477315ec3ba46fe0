import BPFCore
import Synchronization

/// `BPF_MAP_TYPE_PERF_EVENT_ARRAY` in the userspace runtime: a slot per CPU, where programs
/// send records with `bpf_perf_event_output` and the host reads them. As with the kernel's
/// perf buffers, nothing arrives until a reader opens rings (``open(bytesPerSlot:)``, like
/// `perf_buffer__new`): a record for a slot without one fails with `ENOENT`, for a slot past
/// the map with `E2BIG`, and one that does not fit its ring is dropped and counted in ``lost``
/// (`ENOSPC`). Records are read in the order each slot received them (``consume(_:)``).
public final class PerfEventArrayMap: BPFMap, @unchecked Sendable {
    /// A slot's ring: records of an 8-byte header (the size) and the data padded to 8 bytes,
    /// between monotonic head (write) and tail (read) counters.
    private struct Ring: @unchecked Sendable {
        let bytes: UnsafeMutableRawPointer
        let capacity: Int
        var head = 0, tail = 0
    }

    private let rings: Mutex<[Ring?]>
    private let lostRecords = Atomic<UInt64>(0)

    override init(name: String, shape: MapShape) {
        rings = Mutex(Array(repeating: nil, count: shape.maxEntries))
        super.init(name: name, shape: shape)
    }

    deinit { close() }

    /// Records dropped because their slot's ring was full.
    public var lost: UInt64 { lostRecords.load(ordering: .relaxed) }

    /// Opens a ring of `bytesPerSlot` bytes (rounded up to 8) in every slot; slots already
    /// open keep theirs.
    public func open(bytesPerSlot: Int = 64 * 4096) {
        let capacity = max(64, (bytesPerSlot + 7) / 8 * 8)
        rings.withLock { rings in
            for i in rings.indices where rings[i] == nil {
                rings[i] = Ring(bytes: .allocate(byteCount: capacity, alignment: 8), capacity: capacity)
            }
        }
    }

    /// Closes every ring, dropping what was not read.
    public func close() {
        rings.withLock { rings in
            for i in rings.indices {
                rings[i]?.bytes.deallocate()
                rings[i] = nil
            }
        }
    }

    /// What `bpf_perf_event_output` does: appends `first` then `second` (the context bytes a
    /// program asked for, or an empty buffer) as one record to slot `index`. Returns 0 or a
    /// negative errno: `E2BIG` past the map, `ENOENT` for a slot without a ring, `ENOSPC` when
    /// the ring is full (the record is counted in ``lost``). Allocation-free.
    public func output(index: Int, _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) -> Int64 {
        guard index >= 0, index < shape.maxEntries else { return -Int64(Errno.E2BIG.rawValue) }
        let size = first.count + second.count
        return rings.withLock { rings -> Int64 in
            guard var ring = rings[index] else { return -Int64(Errno.ENOENT.rawValue) }
            let needed = 8 + (size + 7) / 8 * 8
            guard ring.capacity - (ring.head - ring.tail) >= needed else {
                lostRecords.add(1, ordering: .relaxed)
                return -Int64(Errno.ENOSPC.rawValue)
            }
            withUnsafeBytes(of: UInt64(size)) { Self.write(&ring, $0) }
            Self.write(&ring, first)
            Self.write(&ring, second)
            ring.head += (8 - size % 8) % 8
            rings[index] = ring
            return 0
        }
    }

    private static func write(_ ring: inout Ring, _ data: UnsafeRawBufferPointer) {
        guard let base = data.baseAddress, data.count > 0 else { return }
        let at = ring.head % ring.capacity
        let firstPart = min(data.count, ring.capacity - at)
        (ring.bytes + at).copyMemory(from: base, byteCount: firstPart)
        if firstPart < data.count { ring.bytes.copyMemory(from: base + firstPart, byteCount: data.count - firstPart) }
        ring.head += data.count
    }

    /// Hands every record read to `body` with its slot (its CPU), slot by slot, each slot's in
    /// the order they came; returns how many.
    @discardableResult
    public func consume(_ body: (_ slot: Int, _ bytes: [UInt8]) -> Void) -> Int {
        var records: [(Int, [UInt8])] = []
        rings.withLock { rings in
            for i in rings.indices {
                guard var ring = rings[i] else { continue }
                while ring.tail < ring.head {
                    var size = 0
                    withUnsafeMutableBytes(of: &size) { Self.read(ring, at: ring.tail, into: $0.baseAddress!, count: 8) }
                    var bytes = [UInt8](repeating: 0, count: size)
                    bytes.withUnsafeMutableBytes { Self.read(ring, at: ring.tail + 8, into: $0.baseAddress, count: size) }
                    records.append((i, bytes))
                    ring.tail += 8 + (size + 7) / 8 * 8
                }
                rings[i] = ring
            }
        }
        for (slot, bytes) in records { body(slot, bytes) }
        return records.count
    }

    private static func read(_ ring: Ring, at position: Int, into destination: UnsafeMutableRawPointer?, count: Int) {
        guard let destination, count > 0 else { return }
        let at = position % ring.capacity
        let firstPart = min(count, ring.capacity - at)
        destination.copyMemory(from: ring.bytes + at, byteCount: firstPart)
        if firstPart < count { (destination + firstPart).copyMemory(from: ring.bytes, byteCount: count - firstPart) }
    }

    /// Programs never address the rings: no memory of the map is theirs.
    override public var storage: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: nil, count: 0) }

    // Slots hold the reader's rings, not values a program or the host reads or writes.
    override public func lookup(_ key: UnsafeRawPointer) -> UnsafeMutableRawPointer? { nil }
    override public func update(_ key: UnsafeRawPointer, _ value: UnsafeRawPointer, flags: UInt64) throws(MapError) {
        throw .invalid(name, "a perf event array's slots are opened by a reader (open(bytesPerSlot:)), not updated")
    }
    override public func delete(_ key: UnsafeRawPointer) throws(MapError) {
        throw .invalid(name, "a perf event array's slots are closed by its reader (close())")
    }
    override public func nextKey(after key: UnsafeRawPointer?, into next: UnsafeMutableRawPointer) throws(MapError) {
        let start = key.map { Int($0.loadUnaligned(as: UInt32.self)) + 1 } ?? 0
        guard start < shape.maxEntries else { throw .notFound(name) }
        next.storeBytes(of: UInt32(start), as: UInt32.self)
    }
}

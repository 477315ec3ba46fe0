import BPFCore
import CBPFShims
import Synchronization

/// `BPF_MAP_TYPE_RINGBUF`: records of any size in a power-of-two byte ring, each behind the
/// kernel's 8-byte header (`u32 len` with `BUSY` and `DISCARD` bits, `u32 pg_off`), reserved by
/// producers under a lock and consumed in order without one.
///
/// The kernel maps the ring twice so a record may wrap around its end; this runtime instead
/// closes the ring's end with a discarded filler record and starts the next record at offset 0,
/// so every record is contiguous. Consumers see the same records in the same order.
public final class RingBufferMap: BPFMap, @unchecked Sendable {
    static let busy = RingBufferRecords.busy, discard = RingBufferRecords.discard, headerSize = RingBufferRecords.headerSize

    private let ring: UnsafeMutableRawPointer
    private let mask: UInt64
    /// Positions: bytes ever reserved (producer) and ever consumed (consumer).
    private let positions: UnsafeMutablePointer<UInt64>
    private let producerLock = Mutex<Void>(())

    override init(name: String, shape: MapShape) {
        ring = .allocate(byteCount: shape.maxEntries, alignment: 4096)
        ring.initializeMemory(as: UInt8.self, repeating: 0, count: shape.maxEntries)
        mask = UInt64(shape.maxEntries - 1)
        positions = .allocate(capacity: 2)
        positions.initialize(repeating: 0, count: 2)
        super.init(name: name, shape: shape)
    }

    deinit {
        ring.deallocate()
        positions.deallocate()
    }

    override public var storage: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: ring, count: shape.maxEntries) }

    private var producer: UnsafeMutableRawPointer { UnsafeMutableRawPointer(positions) }
    private var consumer: UnsafeMutableRawPointer { UnsafeMutableRawPointer(positions + 1) }

    /// Reserves `size` bytes; nil when the ring has no room (the kernel's NULL).
    public func reserve(_ size: Int) -> UnsafeMutableRawPointer? {
        guard size > 0, size <= shape.maxEntries - Self.headerSize else { return nil }
        let length = UInt64((size + Self.headerSize + 7) & ~7)
        let capacity = UInt64(shape.maxEntries)
        return producerLock.withLock { _ -> UnsafeMutableRawPointer? in
            var position = cbpf_fetch_add64(producer, 0)
            let consumed = cbpf_fetch_add64(consumer, 0)
            let offset = position & mask
            var filler: UInt64 = 0
            if offset + length > capacity { filler = capacity - offset }  // close the end, start again at 0
            guard position + filler + length - consumed <= capacity else { return nil }
            if filler > 0 {
                let header = ring + Int(offset)
                header.storeBytes(of: (UInt32(filler) - UInt32(Self.headerSize)) | Self.discard, as: UInt32.self)
                header.storeBytes(of: UInt32(offset >> 12), toByteOffset: 4, as: UInt32.self)
                position += filler
            }
            let header = ring + Int(position & mask)
            header.storeBytes(of: UInt32((position & mask) >> 12), toByteOffset: 4, as: UInt32.self)
            _ = cbpf_xchg32(header, UInt32(size) | Self.busy)
            _ = cbpf_xchg64(producer, position + length)
            return header + Self.headerSize
        }
    }

    /// Publishes a reserved record (`discard`: marks it to be skipped instead). A pointer
    /// that is not an outstanding reservation is ignored.
    public func commit(_ record: UnsafeMutableRawPointer, discard: Bool = false) {
        let header = record - Self.headerSize
        let word = cbpf_fetch_add32(header, 0)
        guard word & Self.busy != 0 else { return }
        let length = word & ~(Self.busy | Self.discard)
        _ = cbpf_xchg32(header, length | (discard ? Self.discard : 0))
    }

    /// Copies `size` bytes at `data` into a new record: 0, or -EAGAIN when the ring is full.
    public func output(_ data: UnsafeRawPointer, size: Int) -> Int32 {
        guard let record = reserve(size) else { return -11 }
        record.copyMemory(from: data, byteCount: size)
        commit(record)
        return 0
    }

    /// Bytes reserved but not yet consumed.
    public var pending: Int { Int(cbpf_fetch_add64(producer, 0) - cbpf_fetch_add64(consumer, 0)) }

    /// Hands each committed record, in order and without copying, to `body`, then releases
    /// them all with one consumer-position update; stops at a record still being written.
    /// Returns the number of records handed over.
    @discardableResult
    public func consume(limit: Int = .max, _ body: (UnsafeRawBufferPointer) -> Void) -> Int {
        RingBufferRecords(consumer: consumer, producer: producer, data: ring, mask: mask).consume(limit: limit, body)
    }

    // A ring buffer has no keys: the element operations fail as in the kernel.
    override public func lookup(_ key: UnsafeRawPointer) -> UnsafeMutableRawPointer? { nil }
    override public func update(_ key: UnsafeRawPointer, _ value: UnsafeRawPointer, flags: UInt64) throws(MapError) {
        throw .invalid(name, "ring buffers have no elements to update")
    }
    override public func delete(_ key: UnsafeRawPointer) throws(MapError) { throw .invalid(name, "ring buffers have no elements to delete") }
    override public func nextKey(after key: UnsafeRawPointer?, into next: UnsafeMutableRawPointer) throws(MapError) {
        throw .invalid(name, "ring buffers have no keys")
    }
}

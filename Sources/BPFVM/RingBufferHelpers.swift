import BPFCore
import BPFMaps

/// `ringbuf_output`, `ringbuf_reserve`, `ringbuf_submit`, `ringbuf_discard`, `ringbuf_query`.
/// A map argument that is not a ring buffer, or a record that is not a reservation of one of
/// the program's rings, is refused rather than trusted (the verifier will rule both out).
enum RingBufferHelpers {
    @inline(__always) static func ring<R>(_ address: UInt64, _ body: (RingBufferMap) -> R, otherwise: R) -> R {
        MapHelpers.map(address, as: RingBufferMap.self, where: { $0.type == MapType.ringbuf }, otherwise: otherwise, body)
    }

    /// The program's ring whose storage holds `record`.
    @inline(__always) static func owner(_ record: UInt64, _ c: UnsafeMutableRawPointer, _ body: (RingBufferMap, UnsafeMutableRawPointer) -> Void) {
        for address in HelperContext.at(c).pointee.ringBuffers {
            let handled: Bool = ring(
                address,
                { rb in
                    let storage = rb.storage
                    let start = UInt64(UInt(bitPattern: storage.baseAddress))
                    guard record >= start + 8, record < start + UInt64(storage.count) else { return false }
                    body(rb, UnsafeMutableRawPointer(bitPattern: UInt(record))!)
                    return true
                }, otherwise: false)
            if handled { return }
        }
    }

    static let output: HelperFunction = { map, data, size, _, _, _ in
        guard let source = UnsafeRawPointer(bitPattern: UInt(data)) else { return HelperResult.einval }
        guard let size = Int(exactly: size) else { return HelperResult.einval }  // larger than any ring
        return ring(map, { UInt64(bitPattern: Int64($0.output(source, size: size))) }, otherwise: HelperResult.einval)
    }

    static let reserve: HelperFunction = { map, size, _, _, _, _ in
        guard let size = Int(exactly: size) else { return 0 }  // larger than any ring: NULL
        return ring(map, { UInt64(UInt(bitPattern: $0.reserve(size))) }, otherwise: 0)
    }

    static let submit: HelperFunction = { record, _, _, _, _, c in
        owner(record, c) { rb, pointer in rb.commit(pointer) }
        return 0
    }

    static let discard: HelperFunction = { record, _, _, _, _, c in
        owner(record, c) { rb, pointer in rb.commit(pointer, discard: true) }
        return 0
    }

    /// `ringbuf_query(map, BPF_RB_AVAIL_DATA)`: bytes not yet consumed (other flags: ring size).
    static let query: HelperFunction = { map, flags, _, _, _, _ in
        ring(map, { flags == 0 ? UInt64($0.pending) : UInt64($0.shape.maxEntries) }, otherwise: 0)
    }
}

extension HelperTable {
    /// Adds the ring buffer helpers (130–134).
    public mutating func registerRingBufferHelpers() {
        register(.ringbufOutput, RingBufferHelpers.output)
        register(.ringbufReserve, RingBufferHelpers.reserve)
        register(.ringbufSubmit, RingBufferHelpers.submit)
        register(.ringbufDiscard, RingBufferHelpers.discard)
        register(.ringbufQuery, RingBufferHelpers.query)
    }
}

import CBPFShims

/// The kernel's ring buffer record format, and its reader: records in a power-of-two ring, each
/// behind an 8-byte header (`u32 len` with the `BUSY` and `DISCARD` bits, `u32 pg_off`), read in
/// order from the consumer position up to the producer position. One reader for both backends:
/// the userspace ``RingBufferMap`` and the kernel's mmap'd ring.
package struct RingBufferRecords {
    /// `BPF_RINGBUF_BUSY_BIT`: the record is reserved, not yet committed.
    package static let busy: UInt32 = 1 << 31
    /// `BPF_RINGBUF_DISCARD_BIT`: the record was discarded; consumers skip it.
    package static let discard: UInt32 = 1 << 30
    /// `BPF_RINGBUF_HDR_SZ`.
    package static let headerSize = 8

    /// The consumer and producer positions (64-bit byte counts), and the ring's data.
    package let consumer: UnsafeMutableRawPointer, producer: UnsafeRawPointer, data: UnsafeRawPointer
    /// The ring's size less one.
    package let mask: UInt64

    package init(consumer: UnsafeMutableRawPointer, producer: UnsafeRawPointer, data: UnsafeRawPointer, mask: UInt64) {
        (self.consumer, self.producer, self.data, self.mask) = (consumer, producer, data, mask)
    }

    /// Hands each committed record to `body` in order — at most `limit` of them — stopping at one
    /// still being written, then releases them all with one store. The record's bytes are the
    /// ring's own: valid only inside `body`. Returns the number of records.
    @inline(__always)
    package func consume(limit: Int, _ body: (UnsafeRawBufferPointer) -> Void) -> Int {
        var position = cbpf_load_acquire64(consumer)
        let end = cbpf_load_acquire64(producer)
        var count = 0
        while position < end, count < limit {
            let header = data + Int(position & mask)
            let word = cbpf_load_acquire32(header)
            if word & Self.busy != 0 { break }
            let length = Int(word & ~(Self.busy | Self.discard))
            if word & Self.discard == 0 {
                body(UnsafeRawBufferPointer(start: header + Self.headerSize, count: length))
                count += 1
            }
            position += UInt64((length + Self.headerSize + 7) & ~7)
        }
        cbpf_store_release64(consumer, position)
        return count
    }
}

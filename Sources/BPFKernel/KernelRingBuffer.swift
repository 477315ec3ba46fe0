import BPFMaps
import CBPFShims
import BPFPlatform

/// Reads a kernel `BPF_MAP_TYPE_RINGBUF` from user space through its shared mappings: the
/// consumer page (read-write), then the producer page and the data, which the kernel maps
/// twice in a row so a record never wraps. Records are handed over in place, without copying,
/// and released with one consumer-position store per batch.
public final class KernelRingBuffer {
    private let map: KernelMap
    private let consumerPage: UnsafeMutableRawPointer
    private let producerArea: UnsafeMutableRawPointer
    private let data: UnsafeMutableRawPointer
    private let mask: UInt64
    private let pageSize: Int
    private let areaSize: Int

    /// Maps the ring buffer `map` (which must be `BPF_MAP_TYPE_RINGBUF`).
    public init(_ map: KernelMap) throws(KernelError) {
        guard map.definition.type == .ringbuf else {
            throw KernelError(command: "ring buffer mmap (\(map.definition.name) is not a ring buffer)", errno: EINVAL)
        }
        pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let size = map.definition.maxEntries
        guard let consumer = mmap(nil, pageSize, PROT_READ | PROT_WRITE, MAP_SHARED, map.fd, 0), consumer != MAP_FAILED else {
            throw KernelError(command: "mmap (ring buffer consumer page)", errno: errno)
        }
        areaSize = pageSize + 2 * size
        guard let producer = mmap(nil, areaSize, PROT_READ, MAP_SHARED, map.fd, off_t(pageSize)), producer != MAP_FAILED else {
            let e = errno
            munmap(consumer, pageSize)
            throw KernelError(command: "mmap (ring buffer data)", errno: e)
        }
        self.map = map
        consumerPage = consumer
        producerArea = producer
        data = producer + pageSize
        mask = UInt64(size - 1)
    }

    /// The map's descriptor, readable when records are waiting (for a poller).
    public var fd: Int32 { map.fd }

    deinit {
        munmap(consumerPage, pageSize)
        munmap(producerArea, areaSize)
    }

    /// Waits up to `milliseconds` for records (the kernel wakes the map's descriptor).
    /// Returns whether there is something to read.
    public func wait(milliseconds: Int32) -> Bool {
        var descriptor = pollfd(fd: map.fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, milliseconds) > 0
    }

    /// Hands each committed record to `body` in order — at most `limit` of them, so one busy
    /// ring cannot starve other work — stopping at one still being written, then releases them
    /// all with one store. The record's bytes are the ring's own: valid only inside `body`.
    /// Returns the number of records.
    @discardableResult
    public func consume(limit: Int = .max, _ body: (UnsafeRawBufferPointer) -> Void) -> Int {
        RingBufferRecords(consumer: consumerPage, producer: producerArea, data: data, mask: mask).consume(limit: limit, body)
    }
}

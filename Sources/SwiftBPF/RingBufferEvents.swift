import BPFKernel
import BPFMaps

/// The records of a ring buffer map as values of `Event`, on either backend: read through the
/// kernel's mmap'd ring, or the userspace runtime's ring. ``drain()`` takes what is there now;
/// iterating (`for await event in events`) waits for more until the task is cancelled. One
/// consumer at a time: the ring has one consumer position.
public final class RingBufferEvents<Event: BPFValue>: AsyncSequence, @unchecked Sendable {
    public typealias Element = Event
    private enum Source {
        case kernel(KernelRingBuffer)
        case userspace(RingBufferMap)
    }
    private let source: Source

    /// The events of `map`, which must be a ring buffer.
    public init(_ map: any LoadedMap) throws(BPFError) {
        guard map.shape.type == .ringbuf else { throw .map(.invalid(map: map.name, reason: "not a ring buffer")) }
        if let kernel = map as? KernelLoadedMap {
            do { source = .kernel(try KernelRingBuffer(kernel.map)) } catch { throw .kernel(error) }
        } else if let userspace = map as? UserspaceLoadedMap, let ring = userspace.map as? RingBufferMap {
            source = .userspace(ring)
        } else {
            throw .map(.invalid(map: map.name, reason: "no ring to read on this backend"))
        }
    }

    /// Every event waiting now, oldest first (a record shorter than `Event` is zero-padded).
    public func drain(limit: Int = .max) -> [Event] {
        var events: [Event] = []
        let take = { (record: UnsafeRawBufferPointer) in events.append(Event(bpfBytes: Array(record)[...])) }
        switch source {
        case let .kernel(ring): ring.consume(limit: limit, take)
        case let .userspace(ring): ring.consume(limit: limit, take)
        }
        return events
    }

    /// Waits up to `milliseconds` for records: the kernel wakes the ring's descriptor; the
    /// userspace ring is filled by runs on this process, so it is polled.
    fileprivate func wait(milliseconds: Int32) -> Bool {
        switch source {
        case let .kernel(ring): return ring.wait(milliseconds: milliseconds)
        case let .userspace(ring): return ring.pending > 0
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let events: RingBufferEvents
        var buffered: [Event] = []

        public mutating func next() async -> Event? {
            while buffered.isEmpty {
                if Task.isCancelled { return nil }
                buffered = events.drain()
                if buffered.isEmpty, !events.wait(milliseconds: 50) { try? await Task.sleep(nanoseconds: 10_000_000) }
            }
            return buffered.removeFirst()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(events: self) }
}

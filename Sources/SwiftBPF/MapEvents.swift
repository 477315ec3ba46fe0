import BPFKernel
import BPFMaps

/// The records of a ring buffer or perf event array map as values of `Event`, on either backend:
/// read through the kernel's mmap'd rings, or the userspace runtime's. ``drain()`` takes what
/// is there now (a perf event array's CPUs one after another);
/// iterating (`for await event in events`) waits for more until the task is cancelled. One
/// consumer at a time: the ring has one consumer position.
public final class MapEvents<Event: BPFValue>: AsyncSequence, @unchecked Sendable {
    public typealias Element = Event
    private enum Source {
        case kernel(KernelRingBuffer)
        case userspace(RingBufferMap)
        case kernelPerf(KernelPerfBuffer)
        case userspacePerf(PerfEventArrayMap)
    }
    private let source: Source

    /// The events of `map`, which must be a ring buffer or a perf event array (whose rings
    /// this opens).
    public init(_ map: any LoadedMap) throws(BPFError) {
        switch (map, map.shape.type) {
        case let (kernel as KernelLoadedMap, .ringbuf):
            do { source = .kernel(try KernelRingBuffer(kernel.map)) } catch { throw .kernel(error) }
        case let (kernel as KernelLoadedMap, .perfEventArray):
            do { source = .kernelPerf(try KernelPerfBuffer(kernel.map)) } catch { throw .kernel(error) }
        case let (userspace as UserspaceLoadedMap, .ringbuf):
            guard let ring = userspace.map as? RingBufferMap else { throw .map(.invalid(map: map.name, reason: "no ring to read")) }
            source = .userspace(ring)
        case let (userspace as UserspaceLoadedMap, .perfEventArray):
            guard let perf = userspace.map as? PerfEventArrayMap else { throw .map(.invalid(map: map.name, reason: "no rings to read")) }
            perf.open()
            source = .userspacePerf(perf)
        default:
            throw .map(.invalid(map: map.name, reason: "neither a ring buffer nor a perf event array"))
        }
    }

    /// Every event waiting now, oldest first (a record shorter than `Event` is zero-padded).
    public func drain(limit: Int = .max) -> [Event] {
        var events: [Event] = []
        let take = { (record: UnsafeRawBufferPointer) in events.append(Event(bpfBytes: Array(record)[...])) }
        switch source {
        case let .kernel(ring): ring.consume(limit: limit, take)
        case let .userspace(ring): ring.consume(limit: limit, take)
        case let .kernelPerf(perf): perf.consume { _, record in take(record) }
        case let .userspacePerf(perf): perf.consume { _, record in events.append(Event(bpfBytes: record[...])) }
        }
        return events
    }

    /// Waits up to `milliseconds` for records, for a consumer that ``drain()``s in a loop of
    /// its own; true when some may be there. The kernel wakes the rings' descriptors; the
    /// userspace rings are filled by runs in this process, so this only looks.
    public func wait(milliseconds: Int32) -> Bool {
        switch source {
        case let .kernel(ring): return ring.wait(milliseconds: milliseconds)
        case let .kernelPerf(perf): return perf.wait(milliseconds: milliseconds)
        case let .userspace(ring): return ring.pending > 0
        case .userspacePerf: return false
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let events: MapEvents
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

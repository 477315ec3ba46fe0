import BPFCore
import Synchronization

/// `BPF_MAP_TYPE_QUEUE` (first in, first out) and `BPF_MAP_TYPE_STACK` (last in, first out):
/// values without keys, in a ring of `maxEntries + 1` slots as the kernel keeps them. Pushing
/// onto a full map fails with `E2BIG`, unless `BPF_EXIST` asks to overwrite the oldest value.
public final class QueueStackMap: BPFMap, @unchecked Sendable {
    private let values: UnsafeMutableRawPointer
    private let slots: Int
    private let isStack: Bool
    /// head: the next slot to write; tail: the oldest value.
    private let state = Mutex<(head: Int, tail: Int)>((0, 0))

    override init(name: String, shape: MapShape) {
        slots = shape.maxEntries + 1
        isStack = shape.type == MapType.stack
        values = .allocate(byteCount: slots * shape.valueSize, alignment: 8)
        values.initializeMemory(as: UInt8.self, repeating: 0, count: slots * shape.valueSize)
        super.init(name: name, shape: shape)
    }

    deinit { values.deallocate() }

    override public var storage: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: values, count: slots * shape.valueSize)
    }

    /// Adds a value (`flags`: `BPF_ANY`, or `BPF_EXIST` to overwrite the oldest when full).
    public func push(_ value: UnsafeRawPointer, flags: UInt64) throws(MapError) {
        guard flags <= UpdateFlags.exist.rawValue else { throw .invalid(name, "unknown push flags \(flags)") }
        try state.withLock { (s) throws(MapError) in
            if (s.head + 1) % slots == s.tail {
                guard flags & UpdateFlags.exist.rawValue != 0 else { throw .full(name) }
                s.tail = (s.tail + 1) % slots
            }
            (values + s.head * shape.valueSize).copyMemory(from: value, byteCount: shape.valueSize)
            s.head = (s.head + 1) % slots
        }
    }

    /// Copies the next value (oldest for a queue, newest for a stack) to `into`, removing it
    /// when `remove`; `ENOENT` when empty.
    public func take(into destination: UnsafeMutableRawPointer, remove: Bool) throws(MapError) {
        try state.withLock { (s) throws(MapError) in
            guard s.head != s.tail else { throw .notFound(name) }
            let index = isStack ? (s.head + slots - 1) % slots : s.tail
            destination.copyMemory(from: values + index * shape.valueSize, byteCount: shape.valueSize)
            guard remove else { return }
            if isStack { s.head = index } else { s.tail = (s.tail + 1) % slots }
        }
    }

    // Keyed operations do not apply: the kernel routes them to push, pop and peek.
    override public func lookup(_ key: UnsafeRawPointer) -> UnsafeMutableRawPointer? { nil }
    override public func update(_ key: UnsafeRawPointer, _ value: UnsafeRawPointer, flags: UInt64) throws(MapError) {
        try push(value, flags: flags)
    }
    override public func delete(_ key: UnsafeRawPointer) throws(MapError) { throw .invalid(name, "queues and stacks have no keys") }
    override public func nextKey(after key: UnsafeRawPointer?, into next: UnsafeMutableRawPointer) throws(MapError) {
        throw .invalid(name, "queues and stacks have no keys")
    }
}

import BPFCore
import CBPFShims
import BPFPlatform

/// `BPF_MAP_TYPE_PERCPU_ARRAY` and `BPF_MAP_TYPE_PERCPU_HASH`: one value per possible CPU.
/// A program sees the value of the CPU it runs on; the host reads and writes all of them, as
/// the kernel's syscalls do: each CPU's value padded to 8 bytes, CPU 0 first.
public final class PerCPUMap: BPFMap, @unchecked Sendable {
    /// Bytes of one CPU's value, rounded up to 8.
    public let stride: Int
    /// Every CPU's values of an entry side by side.
    private let inner: BPFMap

    override init(name: String, shape: MapShape) {
        stride = (shape.valueSize + 7) / 8 * 8
        var innerShape = shape
        innerShape.type = shape.type == MapType.percpuArray ? MapType.array : MapType.hash
        innerShape.valueSize = stride * PossibleCPUs.count
        inner = shape.type == MapType.percpuArray ? ArrayMap(name: name, shape: innerShape) : HashMap(name: name, shape: innerShape)
        super.init(name: name, shape: shape)
    }

    override public var storage: UnsafeMutableRawBufferPointer { inner.storage }

    /// The running CPU's value.
    override public func lookup(_ key: UnsafeRawPointer) -> UnsafeMutableRawPointer? {
        inner.lookup(key).map { $0 + PossibleCPUs.current * stride }
    }

    /// A program's update: sets the running CPU's value; a new hash entry's other CPUs read 0.
    override public func update(_ key: UnsafeRawPointer, _ value: UnsafeRawPointer, flags: UInt64) throws(MapError) {
        let all = UnsafeMutableRawPointer.allocate(byteCount: stride * PossibleCPUs.count, alignment: 8)
        defer { all.deallocate() }
        if let existing = inner.lookup(key) {
            all.copyMemory(from: existing, byteCount: stride * PossibleCPUs.count)
        } else {
            all.initializeMemory(as: UInt8.self, repeating: 0, count: stride * PossibleCPUs.count)
        }
        (all + PossibleCPUs.current * stride).copyMemory(from: value, byteCount: shape.valueSize)
        try inner.update(key, all, flags: flags)
    }

    /// The host's update: `values` holds every CPU's value (``stride`` bytes each).
    public func updateAll(_ key: UnsafeRawPointer, _ values: UnsafeRawPointer, flags: UInt64) throws(MapError) {
        try inner.update(key, values, flags: flags)
    }

    /// Every CPU's value under `key` (``stride`` bytes each), or nil.
    public func lookupAll(_ key: [UInt8]) throws(MapError) -> [[UInt8]]? {
        guard let all = try inner.lookup(key) else { return nil }
        return (0..<PossibleCPUs.count).map { Array(all[($0 * stride)..<($0 * stride + shape.valueSize)]) }
    }

    override public func delete(_ key: UnsafeRawPointer) throws(MapError) { try inner.delete(key) }

    override public func nextKey(after key: UnsafeRawPointer?, into next: UnsafeMutableRawPointer) throws(MapError) {
        try inner.nextKey(after: key, into: next)
    }
}

public import BPFCore
import BPFPlatform

/// A map read and written as Swift values on either backend: what a generated skeleton gives
/// for each map whose key and value types its BTF names.
public struct TypedMap<Key: BPFValue, Value: BPFValue> {
    /// The map underneath, by bytes.
    public let map: any LoadedMap

    public init(_ map: any LoadedMap) { self.map = map }

    /// Whether each key holds a value per CPU (`lookup` gives the first; ``lookupPerCPU(_:)`` all).
    public var isPerCPU: Bool { [MapType.percpuHash, .percpuArray, .lruPercpuHash, .percpuCgroupStorage].contains(map.shape.type) }

    /// The value under `key` (a per-CPU map's first CPU's), or nil.
    public func lookup(_ key: Key) throws(BPFError) -> Value? {
        try map.lookup(key.bpfBytes).map { Value(bpfBytes: $0) }
    }

    /// Every CPU's value under `key`, for a per-CPU map (each padded to 8 bytes in the map's
    /// bytes, as `bpf(2)` gives them).
    public func lookupPerCPU(_ key: Key) throws(BPFError) -> [Value]? {
        guard let bytes = try map.lookup(key.bpfBytes) else { return nil }
        let stride = (Value.byteCount + 7) / 8 * 8
        return Swift.stride(from: 0, to: bytes.count - Value.byteCount + 1, by: stride).map { Value(bpfBytes: bytes[$0..<$0 + Value.byteCount]) }
    }

    /// Stores `value` under `key` (for a per-CPU map, on every CPU).
    public func update(_ key: Key, _ value: Value, flags: UpdateFlags = .any) throws(BPFError) {
        var bytes = value.bpfBytes
        if isPerCPU {
            let padding = [UInt8](repeating: 0, count: (Value.byteCount + 7) / 8 * 8 - Value.byteCount)
            bytes = (0..<PossibleCPUs.count).flatMap { _ in value.bpfBytes + padding }
        }
        try map.update(key.bpfBytes, bytes, flags: flags)
    }

    public func delete(_ key: Key) throws(BPFError) { try map.delete(key.bpfBytes) }

    /// Every key, in the map's order.
    public func keys() throws(BPFError) -> [Key] { try map.keys().map { Key(bpfBytes: $0) } }

    /// Every key and its value, in the map's order.
    public func entries() throws(BPFError) -> [(key: Key, value: Value)] {
        var entries: [(key: Key, value: Value)] = []
        for key in try keys() {
            if let value = try lookup(key) { entries.append((key, value)) }
        }
        return entries
    }
}

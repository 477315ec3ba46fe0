import BPFCore
import CBPFShims

/// `BPF_MAP_TYPE_BLOOM_FILTER`: values without keys, added (`bpf_map_push_elem`) and tested
/// (`bpf_map_peek_elem`: 0 when the value may have been added, `ENOENT` when it surely was not).
/// As the kernel sizes it: `maxEntries · hashes / ln 2` bits rounded up to a power of two, five
/// hash functions; a value added is always found, others are found with the filter's false
/// positive rate. Nothing is ever removed.
public final class BloomFilterMap: BPFMap, @unchecked Sendable {
    private let words: UnsafeMutableRawPointer
    private let bitMask: UInt64
    private let wordCount: Int
    /// The kernel's default number of hash functions (`map_extra` 0).
    static let hashes = 5

    override init(name: String, shape: MapShape) {
        let wanted = max(64, Double(shape.maxEntries) * Double(Self.hashes) / 0.693_147_180_56)
        var bits = 64
        while Double(bits) < wanted { bits <<= 1 }
        bitMask = UInt64(bits - 1)
        wordCount = bits / 64
        words = .allocate(byteCount: wordCount * 8, alignment: 8)
        words.initializeMemory(as: UInt8.self, repeating: 0, count: wordCount * 8)
        super.init(name: name, shape: shape)
    }

    deinit { words.deallocate() }

    override public var storage: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: words, count: wordCount * 8) }

    /// The bit hash function `index` picks for `value` (FNV-1a, seeded per function).
    @inline(__always) private func bit(_ value: UnsafeRawPointer, _ index: Int) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ (UInt64(index) &* 0x9e37_79b9_7f4a_7c15)
        for i in 0..<shape.valueSize {
            h = (h ^ UInt64(value.load(fromByteOffset: i, as: UInt8.self))) &* 0x0000_0100_0000_01b3
        }
        h ^= h >> 29
        return h & bitMask
    }

    /// Adds `value` (`shape.valueSize` bytes).
    public func add(_ value: UnsafeRawPointer) {
        for i in 0..<Self.hashes {
            let b = bit(value, i)
            _ = cbpf_fetch_or64(words + Int(b / 64) * 8, 1 << (b % 64))
        }
    }

    /// Whether `value` may have been added.
    public func contains(_ value: UnsafeRawPointer) -> Bool {
        (0..<Self.hashes).allSatisfy { i in
            let b = bit(value, i)
            return words.load(fromByteOffset: Int(b / 64) * 8, as: UInt64.self) & (1 << (b % 64)) != 0
        }
    }

    /// Adds `value`, as `BPF_MAP_UPDATE_ELEM` with no key does.
    public func add(_ value: [UInt8]) throws(MapError) {
        guard value.count == shape.valueSize else { throw .invalid(name, "value is \(value.count) bytes, the filter's values are \(shape.valueSize)") }
        value.withUnsafeBytes { add($0.baseAddress!) }
    }

    /// Whether `value` may have been added, as `BPF_MAP_LOOKUP_ELEM` with no key answers.
    public func contains(_ value: [UInt8]) throws(MapError) -> Bool {
        guard value.count == shape.valueSize else { throw .invalid(name, "value is \(value.count) bytes, the filter's values are \(shape.valueSize)") }
        return value.withUnsafeBytes { contains($0.baseAddress!) }
    }

    // Keyed operations: the kernel routes updates to push; there is nothing to look up by key,
    // delete or iterate.
    override public func lookup(_ key: UnsafeRawPointer) -> UnsafeMutableRawPointer? { nil }
    override public func update(_ key: UnsafeRawPointer, _ value: UnsafeRawPointer, flags: UInt64) throws(MapError) {
        guard flags == UpdateFlags.any.rawValue else { throw .invalid(name, "a bloom filter takes only BPF_ANY") }
        add(value)
    }
    override public func delete(_ key: UnsafeRawPointer) throws(MapError) { throw .invalid(name, "bloom filter values cannot be deleted") }
    override public func nextKey(after key: UnsafeRawPointer?, into next: UnsafeMutableRawPointer) throws(MapError) {
        throw .invalid(name, "bloom filters have no keys")
    }
}

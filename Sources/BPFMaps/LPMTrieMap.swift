import BPFCore
import Synchronization

/// `BPF_MAP_TYPE_LPM_TRIE`: keys are a 32-bit prefix length then the data (an address), and a
/// lookup finds the entry with the longest prefix that matches. Entries live in a hash map keyed
/// by their prefix, with the data past the prefix zeroed; a lookup tries the prefix lengths in
/// use, longest first. Values keep stable addresses, as in every map.
public final class LPMTrieMap: BPFMap, @unchecked Sendable {
    private let inner: HashMap
    private let dataBits: Int
    /// How many entries use each prefix length (index = length).
    private let lengths: Mutex<[Int]>

    override init(name: String, shape: MapShape) {
        var innerShape = shape
        innerShape.type = MapType.hash
        inner = HashMap(name: name, shape: innerShape)
        dataBits = (shape.keySize - 4) * 8
        lengths = Mutex(Array(repeating: 0, count: dataBits + 1))
        super.init(name: name, shape: shape)
    }

    override public var storage: UnsafeMutableRawBufferPointer { inner.storage }

    /// `key` with its prefix length set to `bits` and the data past it zeroed.
    private func masked(_ key: UnsafeRawPointer, bits: Int, into out: UnsafeMutableRawPointer) {
        out.storeBytes(of: UInt32(bits), as: UInt32.self)
        for i in 0..<(shape.keySize - 4) {
            let byte = key.load(fromByteOffset: 4 + i, as: UInt8.self)
            let keep = max(0, min(8, bits - 8 * i))
            let mask: UInt8 = keep == 8 ? 0xff : ~(0xff >> UInt8(keep))
            out.storeBytes(of: byte & mask, toByteOffset: 4 + i, as: UInt8.self)
        }
    }

    private func prefix(_ key: UnsafeRawPointer) -> Int { Int(key.loadUnaligned(as: UInt32.self)) }

    override public func lookup(_ key: UnsafeRawPointer) -> UnsafeMutableRawPointer? {
        let probe = UnsafeMutableRawPointer.allocate(byteCount: shape.keySize, alignment: 8)
        defer { probe.deallocate() }
        let present = lengths.withLock { $0 }
        var bits = min(prefix(key), dataBits)
        while bits >= 0 {
            if present[bits] > 0 {
                masked(key, bits: bits, into: probe)
                if let value = inner.lookup(probe) { return value }
            }
            bits -= 1
        }
        return nil
    }

    override public func update(_ key: UnsafeRawPointer, _ value: UnsafeRawPointer, flags: UInt64) throws(MapError) {
        let bits = prefix(key)
        guard bits <= dataBits else { throw .invalid(name, "prefix length \(bits) exceeds the \(dataBits) bits of data") }
        let probe = UnsafeMutableRawPointer.allocate(byteCount: shape.keySize, alignment: 8)
        defer { probe.deallocate() }
        masked(key, bits: bits, into: probe)
        let existed = inner.lookup(probe) != nil
        try inner.update(probe, value, flags: flags)
        if !existed { lengths.withLock { $0[bits] += 1 } }
    }

    override public func delete(_ key: UnsafeRawPointer) throws(MapError) {
        let bits = prefix(key)
        guard bits <= dataBits else { throw .invalid(name, "prefix length \(bits) exceeds the \(dataBits) bits of data") }
        let probe = UnsafeMutableRawPointer.allocate(byteCount: shape.keySize, alignment: 8)
        defer { probe.deallocate() }
        masked(key, bits: bits, into: probe)
        try inner.delete(probe)
        lengths.withLock { $0[bits] -= 1 }
    }

    override public func nextKey(after key: UnsafeRawPointer?, into next: UnsafeMutableRawPointer) throws(MapError) {
        try inner.nextKey(after: key, into: next)
    }
}

import BPFCore
import CBPFShims

/// `BPF_MAP_TYPE_ARRAY`: `maxEntries` zero-initialized values indexed by a 32-bit key; every
/// element always exists. Values are 8-byte aligned, as the kernel rounds them.
final class ArrayMap: BPFMap, @unchecked Sendable {
    private let values: UnsafeMutableRawPointer
    private let stride: Int

    override init(name: String, shape: MapShape) {
        stride = (shape.valueSize + 7) / 8 * 8
        values = .allocate(byteCount: stride * shape.maxEntries, alignment: 16)
        values.initializeMemory(as: UInt8.self, repeating: 0, count: stride * shape.maxEntries)
        super.init(name: name, shape: shape)
    }

    deinit { values.deallocate() }

    override var storage: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: values, count: stride * shape.maxEntries) }

    override package var directLookup: (base: UInt64, stride: Int, count: Int)? {
        (UInt64(UInt(bitPattern: values)), stride, shape.maxEntries)
    }

    @inline(__always) private func index(_ key: UnsafeRawPointer) -> Int { Int(key.loadUnaligned(as: UInt32.self)) }

    override func lookup(_ key: UnsafeRawPointer) -> UnsafeMutableRawPointer? {
        let i = index(key)
        return i < shape.maxEntries ? values + i * stride : nil
    }

    override func update(_ key: UnsafeRawPointer, _ value: UnsafeRawPointer, flags: UInt64) throws(MapError) {
        guard flags <= UpdateFlags.exist.rawValue else { throw .invalid(name, "unknown update flags \(flags)") }
        let i = index(key)
        guard i < shape.maxEntries else { throw .full(name) }
        guard flags != UpdateFlags.noExist.rawValue else { throw .exists(name) }
        // Concurrent readers may see a partly written value, as in the kernel without BPF_F_LOCK.
        (values + i * stride).copyMemory(from: value, byteCount: shape.valueSize)
    }

    override func delete(_ key: UnsafeRawPointer) throws(MapError) {
        throw .invalid(name, "array elements cannot be deleted")
    }

    override func nextKey(after key: UnsafeRawPointer?, into next: UnsafeMutableRawPointer) throws(MapError) {
        var n: Int
        if let key {
            let i = index(key)
            n = i >= shape.maxEntries ? 0 : i + 1
        } else {
            n = 0
        }
        guard n < shape.maxEntries else { throw .notFound(name) }
        next.storeBytes(of: UInt32(n), as: UInt32.self)
    }
}

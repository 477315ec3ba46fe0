import CBPFShims
import BPFPlatform

/// Many entries per system call (`BPF_MAP_*_BATCH`, Linux 5.6 and later, for the hash and array
/// kinds), and one at a time where the kernel or the map kind has no batches.
extension KernelMap {
    /// Every entry, as key and value bytes (per-CPU maps: every CPU's value), read `batchSize`
    /// entries a call with `BPF_MAP_LOOKUP_BATCH` where the map supports it, else key by key.
    public func entries(batchSize: Int = 256) throws(KernelError) -> [(key: [UInt8], value: [UInt8])] {
        if let entries = try entriesInBatches(batchSize) { return entries }
        return try entriesOneByOne()
    }

    /// Every entry, key by key (`BPF_MAP_GET_NEXT_KEY` and `BPF_MAP_LOOKUP_ELEM`).
    public func entriesOneByOne() throws(KernelError) -> [(key: [UInt8], value: [UInt8])] {
        var out: [(key: [UInt8], value: [UInt8])] = []
        for key in try keys() {
            if let value = try lookup(key) { out.append((key, value)) }
        }
        return out
    }

    /// The entries by `BPF_MAP_LOOKUP_BATCH`; nil where this map or kernel has no batches.
    package func entriesInBatches(_ batchSize: Int) throws(KernelError) -> [(key: [UInt8], value: [UInt8])]? {
        let keySize = definition.keySize, valueSize = valueBufferSize
        guard keySize > 0 else { return nil }
        var size = max(batchSize, 1)
        var out: [(key: [UInt8], value: [UInt8])] = []
        // The kernel's position token: a bucket index for hashes, a key for arrays.
        var position: [UInt8]? = nil
        var next = [UInt8](repeating: 0, count: max(keySize, 8))
        while true {
            var keys = [UInt8](repeating: 0, count: size * keySize), values = [UInt8](repeating: 0, count: size * valueSize)
            var count = UInt32(size)
            let r = keys.withUnsafeMutableBytes { k in
                values.withUnsafeMutableBytes { v in
                    next.withUnsafeMutableBytes { n in
                        if let position {
                            return position.withUnsafeBytes { cbpf_map_batch(24, fd, $0.baseAddress, n.baseAddress, k.baseAddress, v.baseAddress, &count, 0) }
                        }
                        return cbpf_map_batch(24, fd, nil, n.baseAddress, k.baseAddress, v.baseAddress, &count, 0)
                    }
                }
            }
            if r == -ENOSPC, count == 0 {  // one hash bucket holds more entries than a batch
                size *= 2
                continue
            }
            if position == nil, out.isEmpty, [EINVAL, 95 /* EOPNOTSUPP */, 524 /* ENOTSUPP */].contains(-r) { return nil }
            guard r == 0 || r == -ENOENT else { throw KernelError(command: "BPF_MAP_LOOKUP_BATCH (\(definition.name))", errno: -r) }
            for i in 0..<Int(count) {
                out.append((Array(keys[i * keySize..<(i + 1) * keySize]), Array(values[i * valueSize..<(i + 1) * valueSize])))
            }
            if r == -ENOENT { return out }
            position = next
        }
    }

    /// Stores every entry in one `BPF_MAP_UPDATE_BATCH`, as `BPF_ANY` (the only way the kernel
    /// batches updates); values of per-CPU maps hold every CPU's. On failure the error says how
    /// many were stored before it (they stay stored, as the kernel leaves them).
    public func update(batch entries: [(key: [UInt8], value: [UInt8])]) throws(KernelError) {
        guard !entries.isEmpty else { return }
        let keySize = definition.keySize, valueSize = valueBufferSize
        guard entries.allSatisfy({ $0.key.count == keySize && $0.value.count == valueSize }) else {
            throw KernelError(command: "BPF_MAP_UPDATE_BATCH (\(definition.name): keys must be \(keySize) bytes, values \(valueSize))", errno: EINVAL)
        }
        var keys = entries.flatMap(\.key), values = entries.flatMap(\.value)
        var count = UInt32(entries.count)
        let r = keys.withUnsafeMutableBytes { k in
            values.withUnsafeMutableBytes { cbpf_map_batch(26, fd, nil, nil, k.baseAddress, $0.baseAddress, &count, 0) }
        }
        guard r == 0 else {
            // A refusal before the first entry leaves the count as it was sent.
            let stored = count == UInt32(entries.count) ? 0 : count
            throw KernelError(command: "BPF_MAP_UPDATE_BATCH (\(definition.name), \(stored) of \(entries.count) stored)", errno: -r)
        }
    }
}

import BPFCore
import BPFMaps

/// The helpers that call a program's function back: `bpf_loop` and `bpf_for_each_map_elem`,
/// with the kernel's limits and results. The function runs on the program's interpreter
/// (``HelperContext/callbacks``), in the frame below its caller's.
enum CallbackHelpers {
    /// `BPF_MAX_LOOPS`: the most iterations `bpf_loop` makes.
    static let maxLoops: UInt64 = 1 << 23
    static let e2big = UInt64(bitPattern: -7)

    /// `bpf_loop(nr, callback, ctx, flags)`: calls `callback(i, ctx)` for i from 0 while it
    /// returns 0; the iterations made (counting the one that stopped it), `-E2BIG` past
    /// 2^23, `-EINVAL` for flags.
    static let loop: HelperFunction = { count, callback, ctx, flags, _, context in
        guard flags == 0 else { return HelperResult.einval }
        guard count <= maxLoops else { return e2big }
        guard let callbacks = HelperContext.at(context).pointee.callbacks else { return HelperResult.einval }
        var i: UInt64 = 0
        while i < count {
            let stop = callbacks.call(callback, i, ctx, 0, 0)
            i += 1
            if stop != 0 { return i }
        }
        return count
    }

    /// `bpf_for_each_map_elem(map, callback, ctx, flags)`: calls `callback(map, &key, value,
    /// ctx)` for each element of an array (every index) or hash map while it returns 0; the
    /// elements visited. The key is a copy: the callback cannot change the map's.
    static let forEachMapElement: HelperFunction = { m, callback, ctx, flags, _, context in
        guard flags == 0 else { return HelperResult.einval }
        guard let callbacks = HelperContext.at(context).pointee.callbacks else { return HelperResult.einval }
        let level = callbacks.nesting.pointee
        guard level < Callbacks.maxNesting else { return HelperResult.einval }
        callbacks.nesting.pointee += 1
        defer { callbacks.nesting.pointee -= 1 }
        return MapHelpers.map(m) { map in
            let keySize = map.shape.keySize
            // The key the callback sees: a copy in the key area (readable to checked runs), so
            // that it cannot change the map's; iteration goes on from another copy.
            let shown = callbacks.keys + level * Callbacks.keyBytes
            guard keySize <= Callbacks.keyBytes else { return HelperResult.einval }
            return withUnsafeTemporaryAllocation(byteCount: max(keySize, 8), alignment: 8) { buffer in
                let key = buffer.baseAddress.unsafelyUnwrapped
                var visited: UInt64 = 0
                var have = false
                while true {
                    do throws(MapError) { try map.nextKey(after: have ? UnsafeRawPointer(key) : nil, into: key) } catch { return visited }
                    have = true
                    guard let value = map.lookup(key) else { continue }  // deleted meanwhile
                    visited += 1
                    shown.copyMemory(from: key, byteCount: keySize)
                    if callbacks.call(callback, m, UInt64(UInt(bitPattern: shown)), UInt64(UInt(bitPattern: value)), ctx) != 0 { return visited }
                }
            }
        }
    }
}

extension HelperTable {
    /// `bpf_loop` and `bpf_for_each_map_elem`.
    package mutating func registerCallbackHelpers() {
        register(.loop, CallbackHelpers.loop)
        register(.forEachMapElem, CallbackHelpers.forEachMapElement)
    }
}

import BPFCore

/// The memory a JIT-compiled program reaches through r12 while it runs: the helper context,
/// the tail-call count, what unwinding needs, the error a run ended with, and the helper table
/// (for `callx`). Offsets are fixed: the generated code addresses the fields directly.
enum JITRuntimeBlock {
    static let helperContext: Int32 = 0
    static let tailCalls: Int32 = 8
    /// The trampoline's stack pointer, restored to unwind from any depth.
    static let savedStack: Int32 = 16
    /// The lowest stack pointer from which a bpf-to-bpf call may still be made.
    static let stackLimit: Int32 = 24
    static let errorKind: Int32 = 32
    static let errorPC: Int32 = 40
    static let errorValue: Int32 = 48
    /// ``JITRuntime/tailCallTarget`` and ``JITRuntime/loadPacket``, for code that reaches the
    /// host's functions only through this block (the arm64 backend's).
    static let tailCallFunction: Int32 = 56
    static let loadPacketFunction: Int32 = 64
    /// ``HelperTable/capacity`` function pointers.
    static let helpers: Int32 = 72
    static let size = Int(helpers) + 8 * HelperTable.capacity

    /// Why a run unwound early.
    enum ErrorKind: Int {
        case none = 0
        case callDepth = 1
        case unknownHelper = 2
        /// `LD_ABS`/`LD_IND` outside the packet: the program returns 0, as in the kernel.
        case packetEnd = 3
    }
}

/// Functions the generated code calls for what is not worth inlining, with the C convention.
enum JITRuntime {
    /// Stores the functions' addresses in a runtime block.
    static func install(in runtime: UnsafeMutableRawPointer) {
        runtime.storeBytes(
            of: UInt64(UInt(bitPattern: unsafeBitCast(tailCallTarget, to: UnsafeRawPointer.self))), toByteOffset: Int(JITRuntimeBlock.tailCallFunction),
            as: UInt64.self)
        runtime.storeBytes(
            of: UInt64(UInt(bitPattern: unsafeBitCast(loadPacket, to: UnsafeRawPointer.self))), toByteOffset: Int(JITRuntimeBlock.loadPacketFunction),
            as: UInt64.self)
    }

    /// `(map, index, runtime) -> native entry or 0`: the tail-call target in slot `index` of the
    /// program array `map`, counted against the limit of 33 a run.
    static let tailCallTarget: @convention(c) (UInt64, UInt64, UnsafeMutableRawPointer) -> UInt64 = { map, index, runtime in
        let count = runtime.advanced(by: Int(JITRuntimeBlock.tailCalls)).assumingMemoryBound(to: UInt64.self)
        guard count.pointee < UInt64(BPFLimits.maxTailCalls) else { return 0 }
        let native = ProgramEntry.target(map: map, index: index, .nativeEntry)
        if native != 0 { count.pointee += 1 }
        return native
    }

    /// `(socket buffer, offset, size, runtime) -> value`: `LD_ABS`/`LD_IND`'s big-endian load;
    /// out of the packet it sets the runtime's error to ``JITRuntimeBlock/ErrorKind/packetEnd``.
    static let loadPacket: @convention(c) (UInt64, Int64, UInt64, UnsafeMutableRawPointer) -> UInt64 = { skbAddress, offset, size, runtime in
        let skb = UnsafePointer<SocketBufferContext>(bitPattern: UInt(skbAddress)).unsafelyUnwrapped
        guard let address = skb.pointee.legacyLoadAddress(offset: offset, size: Int(size)) else {
            runtime.storeBytes(of: UInt64(JITRuntimeBlock.ErrorKind.packetEnd.rawValue), toByteOffset: Int(JITRuntimeBlock.errorKind), as: UInt64.self)
            return 0
        }
        let p = UnsafeRawPointer(bitPattern: UInt(address)).unsafelyUnwrapped
        switch size {
        case 1: return UInt64(p.load(as: UInt8.self))
        case 2: return UInt64(UInt16(bigEndian: p.loadUnaligned(as: UInt16.self)))
        default: return UInt64(UInt32(bigEndian: p.loadUnaligned(as: UInt32.self)))
        }
    }
}

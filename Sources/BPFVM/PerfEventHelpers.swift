import BPFCore
import BPFMaps
import CBPFShims

/// `bpf_perf_event_output(ctx, map, flags, data, size)` into a ``PerfEventArrayMap``: the low
/// 32 bits of `flags` pick the slot (`BPF_F_CURRENT_CPU`: this CPU's); for packet programs
/// the next 20 (`BPF_F_CTXLEN_MASK`) ask for that many bytes of the packet to follow the data,
/// as the kernel's `bpf_xdp_event_output` and `bpf_skb_event_output` append them.
enum PerfEventHelpers {
    static let indexMask: UInt64 = 0xffff_ffff
    static let currentCPU: UInt64 = 0xffff_ffff
    static let contextLengthMask: UInt64 = 0xfffff << 32

    @inline(__always) static func output(_ m: UInt64, _ flags: UInt64, _ data: UInt64, _ size: UInt64, packet: UnsafeRawBufferPointer) -> UInt64 {
        MapHelpers.map(m, as: PerfEventArrayMap.self, where: { $0.type == MapType.perfEventArray }, otherwise: HelperResult.einval) { map in
            let index = flags & indexMask == currentCPU ? Int(cbpf_current_cpu()) : Int(flags & indexMask)
            let record = UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(data)), count: Int(size))
            return UInt64(bitPattern: map.output(index: index, record, packet))
        }
    }

    /// Tracing programs: no context bytes may be asked for.
    static let fromRecord: HelperFunction = { _, m, flags, data, size, _ in
        guard flags & ~indexMask == 0 else { return HelperResult.einval }
        return output(m, flags, data, size, packet: UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// XDP: up to the whole packet may follow the data.
    static let fromXDP: HelperFunction = { ctx, m, flags, data, size, _ in
        let xdp = UnsafePointer<XDPContext>(bitPattern: UInt(ctx)).unsafelyUnwrapped.pointee
        return fromPacket(xdp.data, xdp.dataEnd, m, flags, data, size)
    }

    /// Socket buffers (socket filters, tc, cgroup_skb): bytes from the packet data on.
    static let fromSocketBuffer: HelperFunction = { ctx, m, flags, data, size, _ in
        let skb = UnsafePointer<SocketBufferContext>(bitPattern: UInt(ctx)).unsafelyUnwrapped.pointee
        return fromPacket(skb.data, skb.dataEnd, m, flags, data, size)
    }

    /// A record followed by as many bytes of the packet `start..<end` as `flags` asks for.
    @inline(__always) private static func fromPacket(_ start: UInt64, _ end: UInt64, _ m: UInt64, _ flags: UInt64, _ data: UInt64, _ size: UInt64) -> UInt64 {
        guard flags & ~(indexMask | contextLengthMask) == 0 else { return HelperResult.einval }
        let length = (flags & contextLengthMask) >> 32
        guard length <= end &- start else { return HelperResult.efault }
        return output(m, flags, data, size, packet: UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(start)), count: Int(length)))
    }
}

extension HelperTable {
    /// The contexts `bpf_perf_event_output` (25) reads appended bytes from.
    public enum PerfEventContext: Sendable { case record, xdp, socketBuffer }

    /// Adds `bpf_perf_event_output` (25) for programs whose context is `context`.
    public mutating func registerPerfEventOutput(_ context: PerfEventContext) {
        switch context {
        case .record: register(.perfEventOutput, PerfEventHelpers.fromRecord)
        case .xdp: register(.perfEventOutput, PerfEventHelpers.fromXDP)
        case .socketBuffer: register(.perfEventOutput, PerfEventHelpers.fromSocketBuffer)
        }
    }
}

import BPFCore
/// XDP helpers with the kernel's bounds: the frame is `data_hard_start`, 40 bytes kept for
/// `struct xdp_frame`, then headroom, the packet, and tailroom up to ``XDPContext/hardEnd``.
/// r1 is the program's context, which the userspace runtime lays out as ``XDPContext``.
enum XDPHelpers {
    /// `sizeof(struct xdp_frame)` on 64-bit machines: headroom the packet may not grow into.
    static let frameHeader: UInt64 = 40
    /// `ETH_HLEN`: a packet never shrinks below an Ethernet header.
    static let ethernetHeader: UInt64 = 14

    @inline(__always) static func context(_ r1: UInt64) -> UnsafeMutablePointer<XDPContext> {
        UnsafeMutablePointer<XDPContext>(bitPattern: UInt(r1)).unsafelyUnwrapped
    }

    /// `bpf_xdp_adjust_head(ctx, delta)`: moves the packet's start by `delta` bytes.
    static let adjustHead: HelperFunction = { r1, delta, _, _, _, _ in
        let ctx = context(r1)
        let data = ctx.pointee.data &+ UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: delta)))
        guard data >= ctx.pointee.hardStart + frameHeader, data <= ctx.pointee.dataEnd &- ethernetHeader,
            ctx.pointee.dataEnd >= ethernetHeader
        else { return HelperResult.einval }
        ctx.pointee.dataMeta = data
        ctx.pointee.data = data
        return 0
    }

    /// `bpf_xdp_adjust_tail(ctx, delta)`: moves the packet's end; new tail bytes are zeroed.
    static let adjustTail: HelperFunction = { r1, delta, _, _, _, _ in
        let ctx = context(r1)
        let offset = Int64(Int32(truncatingIfNeeded: delta))
        let end = ctx.pointee.dataEnd &+ UInt64(bitPattern: offset)
        guard end <= ctx.pointee.hardEnd, end >= ctx.pointee.data + ethernetHeader else { return HelperResult.einval }
        if offset > 0 {
            UnsafeMutableRawPointer(bitPattern: UInt(ctx.pointee.dataEnd))!.initializeMemory(as: UInt8.self, repeating: 0, count: Int(offset))
        }
        ctx.pointee.dataEnd = end
        return 0
    }
}

extension HelperTable {
    /// Adds `bpf_redirect` (23), `bpf_redirect_map` (51), `bpf_xdp_adjust_head` (44) and
    /// `bpf_xdp_adjust_tail` (65).
    public mutating func registerXDPHelpers() {
        registerXDPRedirect()
        register(.xdpAdjustHead, XDPHelpers.adjustHead)
        register(.xdpAdjustTail, XDPHelpers.adjustTail)
    }
}

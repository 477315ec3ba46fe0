/// The socket-buffer context the userspace runtime gives socket filters: `struct __sk_buff`'s
/// first fields at their UAPI offsets (so a program's loads need no rewriting), then the packet
/// bounds that `LD_ABS`/`LD_IND` read through.
package struct SocketBufferContext {
    public var len: UInt32
    public var pktType: UInt32
    public var mark: UInt32
    public var queueMapping: UInt32
    /// The EtherType, in network byte order as the kernel stores it.
    public var protocolType: UInt32
    public var vlanPresent: UInt32
    public var vlanTCI: UInt32
    public var vlanProto: UInt32
    public var priority: UInt32
    public var ingressIfindex: UInt32
    public var ifindex: UInt32
    public var tcIndex: UInt32
    public var cb: (UInt32, UInt32, UInt32, UInt32, UInt32)
    public var hash: UInt32
    /// The packet, for legacy packet access, and as tc programs' `data` and `data_end`.
    public var data: UInt64
    public var dataEnd: UInt64
    /// `tc_classid` (UAPI offset 72, where the runtime keeps `data`), set by tc programs: 16
    /// bits, as the kernel keeps it.
    public var tcClassid: UInt16
    /// The fields past `data_end` (zero in a test run, as in the kernel's), at offsets of
    /// the runtime's own: programs' accesses are converted to them.
    public var napiID: UInt32 = 0
    public var wireLength: UInt32 = 0
    public var gsoSegments: UInt32 = 0
    public var gsoSize: UInt32 = 0
    public var tstampType: UInt8 = 0
    /// Set by tc programs.
    public var tstamp: UInt64 = 0
    public var hardwareTstamp: UInt64 = 0
    /// The socket cgroup programs read (`family` through `local_port`): as the kernel's test
    /// run fakes it, an `AF_INET` or `AF_INET6` socket whose local and remote addresses are the
    /// packet's source and destination, in network byte order; ports 0.
    public var family: UInt32 = 0
    public var remoteIPv4: UInt32 = 0
    public var localIPv4: UInt32 = 0
    public var remoteIPv6: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    public var localIPv6: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    public var remotePort: UInt32 = 0
    public var localPort: UInt32 = 0
    /// The frame's first byte (the link-layer header: `skb->head` and the MAC header), and the
    /// network header's: what `LD_ABS`/`LD_IND` read at `SKF_LL_OFF` and `SKF_NET_OFF`.
    public var head: UInt64 = 0
    public var networkHeader: UInt64 = 0

    /// A context for the Ethernet `frame` as the kernel's `BPF_PROG_TEST_RUN` presents one to
    /// a socket filter or cgroup program: the Ethernet header pulled (`eth_type_trans`), so the
    /// data and `len` start at the network header and `protocol` holds the EtherType. Frames
    /// of 14 bytes or fewer have no network header; they get an empty packet. The packet
    /// arrived on no interface (`ingress_ifindex` 0) and is on `ifindex`.
    ///
    /// With `l2` (tc programs), the header stays: data and `len` start at the Ethernet header,
    /// as the kernel's test run pushes it back for them.
    public init(frame: UnsafeRawBufferPointer, ifindex: UInt32 = 1, l2: Bool = false) {
        let header = l2 ? 0 : min(14, frame.count)
        let data = UnsafeRawBufferPointer(rebasing: frame[header...])
        len = UInt32(data.count)
        // As eth_type_trans sets it on the loopback device the kernel's test run uses, whose
        // address and broadcast address are both zero: to it (host), multicast (every address
        // with the group bit, ff:ff:ff:ff:ff:ff too), or another host's.
        let destination = frame.prefix(6)
        pktType = destination.count < 6 || destination.allSatisfy({ $0 == 0 }) ? 0 : destination.first! & 1 != 0 ? 2 : 3
        mark = 0
        queueMapping = 0
        protocolType = frame.count >= 14 ? UInt32(frame[12]) | UInt32(frame[13]) << 8 : 0
        vlanPresent = 0
        vlanTCI = 0
        vlanProto = 0
        priority = 0
        ingressIfindex = 0
        self.ifindex = ifindex
        tcIndex = 0
        cb = (0, 0, 0, 0, 0)
        hash = 0
        self.data = UInt64(UInt(bitPattern: frame.baseAddress)) + UInt64(header)
        dataEnd = self.data + UInt64(data.count)
        tcClassid = 0
        head = UInt64(UInt(bitPattern: frame.baseAddress))
        networkHeader = head + UInt64(min(14, frame.count))
        let network = UnsafeRawBufferPointer(rebasing: frame[min(14, frame.count)...])
        func word(_ offset: Int) -> UInt32 { network.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
        switch protocolType {
        case 0x0008:  // IPv4
            family = 2
            if network.count >= 20 { (localIPv4, remoteIPv4) = (word(12), word(16)) }
        case 0xdd86:  // IPv6
            family = 10
            if network.count >= 40 {
                localIPv6 = (word(8), word(12), word(16), word(20))
                remoteIPv6 = (word(24), word(28), word(32), word(36))
            }
        default: break
        }
    }
}

extension ContextConversion {
    /// tc's `__sk_buff`: the socket filter's fields, with mark, queue_mapping, priority and
    /// tc_index writable too; `tc_classid` (72, readable and writable); the packet pointers
    /// `data` (76), `data_end` (80) and `data_meta` (140, the same as `data`: no metadata)
    /// onto the context's 64-bit addresses; `tstamp` (writable), `wire_len`, `gso_segs`,
    /// `gso_size`, `tstamp_type` and `hwtstamp`. queue_mapping, tc_index and tc_classid are
    /// 16-bit in the kernel's socket buffer, so they are read and written as their low halves
    /// (the kernel also ignores a queue_mapping of 0xffff or more, which here is truncated
    /// instead).
    public static let tc: [Field] =
        uapiFields(writable: [2, 3, 8, 11, 12, 13, 14, 15, 16]).map {
            var field = $0
            if field.offset == 12 || field.offset == 44 { field.runtimeSize = .h }
            return field
        } + [
            Field(offset: 72, size: 4, runtimeOffset: runtime(\.tcClassid), runtimeSize: .h, writable: true),
            Field(offset: 76, size: 4, runtimeOffset: runtime(\.data), runtimeSize: .dw),
            Field(offset: 80, size: 4, runtimeOffset: runtime(\.dataEnd), runtimeSize: .dw),
            Field(offset: 140, size: 4, runtimeOffset: runtime(\.data), runtimeSize: .dw),
            Field(offset: 152, size: 8, runtimeOffset: runtime(\.tstamp), runtimeSize: .dw, writable: true),
            Field(offset: 160, size: 4, runtimeOffset: runtime(\.wireLength), runtimeSize: .w),
            Field(offset: 180, size: 1, runtimeOffset: runtime(\.tstampType), runtimeSize: .b),
            Field(offset: 184, size: 8, runtimeOffset: runtime(\.hardwareTstamp), runtimeSize: .dw),
        ] + laterFields

    /// The `__sk_buff` fields a socket filter may read, 4 bytes each: len through hash (at
    /// their own offsets: the runtime keeps the UAPI layout), `napi_id`, `gso_segs` and
    /// `gso_size`; of them it may write only `cb[]`.
    public static let socketFilter: [Field] = uapiFields(writable: [12, 13, 14, 15, 16]) + laterFields

    /// `cgroup_skb`'s `__sk_buff`: the socket filter's fields with mark and priority writable
    /// too, the packet pointers `data` and `data_end` (for reading), `tstamp` (writable),
    /// `hwtstamp`, and the socket's `family` through `local_port`.
    public static let cgroupSKB: [Field] =
        uapiFields(writable: [2, 8, 12, 13, 14, 15, 16]) + [
            Field(offset: 76, size: 4, runtimeOffset: runtime(\.data), runtimeSize: .dw),
            Field(offset: 80, size: 4, runtimeOffset: runtime(\.dataEnd), runtimeSize: .dw),
            Field(offset: 152, size: 8, runtimeOffset: runtime(\.tstamp), runtimeSize: .dw, writable: true),
            Field(offset: 184, size: 8, runtimeOffset: runtime(\.hardwareTstamp), runtimeSize: .dw),
        ]
        + (0..<13).map {
            Field(offset: Int16(88 + $0 * 4), size: 4, runtimeOffset: runtime(\.family) + Int16($0 * 4), runtimeSize: .w)
        } + laterFields

    /// len through hash, 4 bytes each at their UAPI offsets; `writable` lists field numbers.
    private static func uapiFields(writable: Set<Int>) -> [Field] {
        (0..<18).map { Field(offset: Int16($0 * 4), size: 4, runtimeOffset: Int16($0 * 4), runtimeSize: .w, writable: writable.contains($0)) }
    }

    /// Read-only fields past `data_end` that socket filters and tc programs both read.
    private static let laterFields = [
        Field(offset: 84, size: 4, runtimeOffset: runtime(\.napiID), runtimeSize: .w),
        Field(offset: 164, size: 4, runtimeOffset: runtime(\.gsoSegments), runtimeSize: .w),
        Field(offset: 176, size: 4, runtimeOffset: runtime(\.gsoSize), runtimeSize: .w),
    ]

    private static func runtime(_ field: PartialKeyPath<SocketBufferContext>) -> Int16 {
        Int16(MemoryLayout<SocketBufferContext>.offset(of: field)!)
    }
}

/// `SKF_NET_OFF`: `LD_ABS`/`LD_IND` offsets from here on count from the network header.
let skfNetOffset: Int64 = -0x10_0000
/// `SKF_LL_OFF`: offsets from here on (below `SKF_NET_OFF`) count from the link-layer header.
let skfLinkLayerOffset: Int64 = -0x20_0000

extension SocketBufferContext {
    /// Where `LD_ABS`/`LD_IND` read `size` bytes at `offset`, or nil where the kernel fails the
    /// load (and the program returns 0): a non-negative offset counts from the packet data;
    /// from `SKF_NET_OFF` and `SKF_LL_OFF`, from the network and link-layer headers
    /// (`bpf_internal_load_pointer_neg_helper`); the bytes must lie in the frame.
    @inline(__always)
    func legacyLoadAddress(offset: Int64, size: Int) -> UInt64? {
        let start: UInt64
        if offset >= 0 {
            guard offset + Int64(size) <= Int64(dataEnd &- data) else { return nil }
            return data &+ UInt64(offset)
        } else if offset >= skfNetOffset {
            start = networkHeader &+ UInt64(offset - skfNetOffset)
        } else if offset >= skfLinkLayerOffset {
            start = head &+ UInt64(offset - skfLinkLayerOffset)
        } else {
            return nil
        }
        guard start >= head, start &+ UInt64(size) <= dataEnd, start &+ UInt64(size) >= start else { return nil }
        return start
    }
}

/// A packet capture: the packets of a pcap or pcapng file with their timestamps and link type,
/// as ``read(_:)`` parses them and ``pcapBytes(packets:linkType:snapLength:)`` writes them.
public struct PacketCapture: Sendable {
    /// `LINKTYPE_ETHERNET`.
    public static let ethernet: UInt32 = 1
    /// The largest packet read (a corrupt length is refused rather than allocated).
    public static let maxPacketLength = 262_144

    /// One captured packet.
    public struct Packet: Sendable, Equatable {
        /// Capture time, nanoseconds since the Unix epoch.
        public var timestamp: UInt64
        /// The bytes captured.
        public var data: [UInt8]
        /// The packet's length on the wire (at least `data.count`).
        public var originalLength: Int

        public init(timestamp: UInt64, data: [UInt8], originalLength: Int? = nil) {
            self.timestamp = timestamp
            self.data = data
            self.originalLength = max(originalLength ?? data.count, data.count)
        }
    }

    /// The link type (`LINKTYPE_*`) of the packets.
    public var linkType: UInt32
    /// The capture's snapshot length.
    public var snapLength: Int
    public var packets: [Packet]
    /// Whether the file was pcapng.
    public var isPcapNG: Bool

    public init(linkType: UInt32 = PacketCapture.ethernet, snapLength: Int = 65535, packets: [Packet] = [], isPcapNG: Bool = false) {
        self.linkType = linkType
        self.snapLength = snapLength
        self.packets = packets
        self.isPcapNG = isPcapNG
    }

    /// Parses a pcap (either byte order, micro- or nanosecond timestamps) or pcapng file (its
    /// interface descriptions, enhanced and simple packet blocks; every interface must share
    /// one link type).
    /// - Throws: ``PacketCaptureError`` naming the byte where the file goes wrong.
    public static func read(_ bytes: [UInt8]) throws(PacketCaptureError) -> PacketCapture {
        guard bytes.count >= 4 else { throw PacketCaptureError(.malformedCapture, at: 0, "\(bytes.count) bytes: not a capture file") }
        var reader = ByteReader(bytes)
        switch reader.u32(at: 0, bigEndian: false) {
        case 0xa1b2_c3d4, 0xa1b2_3c4d, 0xd4c3_b2a1, 0x4d3c_b2a1: return try readPcap(&reader)
        case 0x0a0d_0d0a: return try readPcapNG(&reader)
        case let magic: throw PacketCaptureError(.malformedCapture, at: 0, "magic 0x\(String(magic, radix: 16)) is neither pcap's nor pcapng's")
        }
    }

    private static func readPcap(_ r: inout ByteReader) throws(PacketCaptureError) -> PacketCapture {
        let magic = r.u32(at: 0, bigEndian: false)
        let big = magic == 0xd4c3_b2a1 || magic == 0x4d3c_b2a1
        let nanoseconds = magic == 0xa1b2_3c4d || magic == 0x4d3c_b2a1
        guard r.count >= 24 else { throw PacketCaptureError(.malformedCapture, at: r.count, "the pcap header is cut short") }
        var capture = PacketCapture(linkType: r.u32(at: 20, bigEndian: big) & 0x0fff_ffff, snapLength: Int(r.u32(at: 16, bigEndian: big)))
        var at = 24
        while at < r.count {
            guard at + 16 <= r.count else { throw PacketCaptureError(.malformedCapture, at: at, "a packet header is cut short") }
            let seconds = UInt64(r.u32(at: at, bigEndian: big)), fraction = UInt64(r.u32(at: at + 4, bigEndian: big))
            let captured = Int(r.u32(at: at + 8, bigEndian: big)), original = Int(r.u32(at: at + 12, bigEndian: big))
            guard captured <= maxPacketLength else { throw PacketCaptureError(.malformedCapture, at: at + 8, "a packet of \(captured) bytes") }
            guard at + 16 + captured <= r.count else { throw PacketCaptureError(.malformedCapture, at: at, "a packet runs past the end of the file") }
            let timestamp = seconds * 1_000_000_000 + (nanoseconds ? fraction : fraction * 1000)
            capture.packets.append(Packet(timestamp: timestamp, data: Array(r.bytes[at + 16..<at + 16 + captured]), originalLength: original))
            at += 16 + captured
        }
        return capture
    }

    private static func readPcapNG(_ r: inout ByteReader) throws(PacketCaptureError) -> PacketCapture {
        var capture = PacketCapture(linkType: 0, snapLength: 0, isPcapNG: true)
        var interfaces: [(linkType: UInt32, nanosPerUnit: UInt64, snap: Int)] = []
        var big = false, at = 0
        while at < r.count {
            guard at + 12 <= r.count else { throw PacketCaptureError(.malformedCapture, at: at, "a block header is cut short") }
            let type = r.u32(at: at, bigEndian: big)
            if type == 0x0a0d_0d0a {
                // A section header: its byte-order magic decides how the section reads.
                guard at + 28 <= r.count else { throw PacketCaptureError(.malformedCapture, at: at, "a section header is cut short") }
                big = r.u32(at: at + 8, bigEndian: false) != 0x1a2b_3c4d
                guard r.u32(at: at + 8, bigEndian: big) == 0x1a2b_3c4d else {
                    throw PacketCaptureError(.malformedCapture, at: at + 8, "the section's byte-order magic is wrong")
                }
                interfaces = []
            }
            let length = Int(r.u32(at: at + 4, bigEndian: big))
            guard length >= 12, length % 4 == 0, at + length <= r.count else {
                throw PacketCaptureError(.malformedCapture, at: at + 4, "a block of \(length) bytes does not fit the file")
            }
            let body = at + 8
            switch type {
            case 1:  // interface description
                guard length >= 20 else { throw PacketCaptureError(.malformedCapture, at: at, "an interface description is cut short") }
                var nanos: UInt64 = 1000  // microseconds unless if_tsresol says otherwise
                var option = body + 8
                while option + 4 <= at + length - 4 {
                    let code = Int(r.u16(at: option, bigEndian: big)), size = Int(r.u16(at: option + 2, bigEndian: big))
                    if code == 0 { break }
                    if code == 9, size >= 1, option + 4 < r.count {
                        let resolution = r.bytes[option + 4]
                        let exponent = Int(resolution & 0x7f)
                        if resolution & 0x80 == 0, exponent <= 9 {
                            var units: UInt64 = 1
                            for _ in 0..<exponent { units *= 10 }
                            nanos = 1_000_000_000 / units
                        } else {
                            throw PacketCaptureError(
                                .malformedCapture, at: option + 4, "timestamp resolution 0x\(String(resolution, radix: 16)) is not supported")
                        }
                    }
                    option += 4 + (size + 3) / 4 * 4
                }
                interfaces.append((UInt32(r.u16(at: body, bigEndian: big)), nanos, Int(r.u32(at: body + 4, bigEndian: big))))
            case 6, 3:  // enhanced packet, simple packet
                let enhanced = type == 6
                guard let interface = enhanced ? interfaces[safe: Int(r.u32(at: body, bigEndian: big))] : interfaces.first else {
                    throw PacketCaptureError(.malformedCapture, at: body, "a packet names no interface described before it")
                }
                let header = enhanced ? 20 : 4
                guard length >= 12 + header else { throw PacketCaptureError(.malformedCapture, at: at, "a packet block is cut short") }
                let captured =
                    enhanced ? Int(r.u32(at: body + 12, bigEndian: big)) : min(Int(r.u32(at: body, bigEndian: big)), length - 16)
                let original = enhanced ? Int(r.u32(at: body + 16, bigEndian: big)) : Int(r.u32(at: body, bigEndian: big))
                guard captured <= maxPacketLength, body + header + captured <= at + length - 4 else {
                    throw PacketCaptureError(.malformedCapture, at: at, "a packet of \(captured) bytes does not fit its block")
                }
                var timestamp: UInt64 = 0
                if enhanced {
                    let units = UInt64(r.u32(at: body + 4, bigEndian: big)) << 32 | UInt64(r.u32(at: body + 8, bigEndian: big))
                    timestamp = units.multipliedReportingOverflow(by: interface.nanosPerUnit).partialValue
                }
                if capture.linkType == 0 {
                    (capture.linkType, capture.snapLength) = (interface.linkType, interface.snap)
                } else if capture.linkType != interface.linkType {
                    throw PacketCaptureError(.malformedCapture, at: at, "interfaces of link types \(capture.linkType) and \(interface.linkType) in one file")
                }
                let start = body + header
                capture.packets.append(Packet(timestamp: timestamp, data: Array(r.bytes[start..<start + captured]), originalLength: original))
            default:
                break  // statistics, name resolution, custom blocks
            }
            at += length
        }
        if capture.linkType == 0 { capture.linkType = interfaces.first?.linkType ?? PacketCapture.ethernet }
        if capture.snapLength == 0 { capture.snapLength = 65535 }
        return capture
    }

    /// The capture as a classic pcap file (little-endian, nanosecond timestamps).
    public static func pcapBytes(packets: [Packet], linkType: UInt32, snapLength: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(24 + packets.reduce(0) { $0 + 16 + $1.data.count })
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        u32(0xa1b2_3c4d)
        u16(2)
        u16(4)
        u32(0)
        u32(0)
        u32(UInt32(clamping: snapLength))
        u32(linkType)
        for packet in packets {
            u32(UInt32(truncatingIfNeeded: packet.timestamp / 1_000_000_000))
            u32(UInt32(packet.timestamp % 1_000_000_000))
            u32(UInt32(packet.data.count))
            u32(UInt32(clamping: packet.originalLength))
            out += packet.data
        }
        return out
    }
}

/// Little- or big-endian integers at offsets of a byte array (callers check bounds first).
struct ByteReader {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    var count: Int { bytes.count }

    func u32(at i: Int, bigEndian: Bool) -> UInt32 {
        let v = UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
        return bigEndian ? v.byteSwapped : v
    }

    func u16(at i: Int, bigEndian: Bool) -> UInt16 {
        let v = UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8
        return bigEndian ? v.byteSwapped : v
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}

import BPFPacket
import BPFTestSupport
import Testing

@Suite("Capture files: pcap and pcapng in, pcap out")
struct PacketCaptureTests {
    @Test("pcap round trip keeps packets, lengths and nanosecond timestamps")
    func roundTrip() throws {
        let capture = TrafficGenerator.capture(count: 50, seed: 3)
        var packets = capture.packets
        packets[3].timestamp += 123_456_789
        packets[4].originalLength = 9000
        let read = try PacketCapture.read(PacketCapture.pcapBytes(packets: packets, linkType: PacketCapture.ethernet, snapLength: 4096))
        #expect(read.packets == packets && read.linkType == PacketCapture.ethernet && read.snapLength == 4096 && !read.isPcapNG)
    }

    /// A pcapng file: a section header, an interface with microsecond resolution, an enhanced
    /// packet block and a simple one (written here byte by byte, as the format describes).
    @Test("pcapng: interfaces, timestamp resolution, enhanced and simple packets, big-endian sections")
    func pcapng() throws {
        for big in [false, true] {
            var out: [UInt8] = []
            func u32(_ v: UInt32) { out += (0..<4).map { UInt8(truncatingIfNeeded: (big ? v.byteSwapped : v) >> (8 * $0)) } }
            func u16(_ v: UInt16) { out += (0..<2).map { UInt8(truncatingIfNeeded: (big ? v.byteSwapped : v) >> (8 * $0)) } }
            out += [0x0a, 0x0d, 0x0d, 0x0a]
            u32(28)
            u32(0x1a2b_3c4d)
            u16(1)
            u16(0)
            u32(0xffff_ffff)
            u32(0xffff_ffff)
            u32(28)
            // Interface: Ethernet, snap 2048, if_tsresol 6 (microseconds), end of options.
            u32(1)
            u32(32)
            u16(1)
            u16(0)
            u32(2048)
            u16(9)
            u16(1)
            out += [6, 0, 0, 0]
            u16(0)
            u16(0)
            u32(32)
            // Enhanced packet: 5 bytes captured of 60, at 1.5 s.
            u32(6)
            u32(40)
            u32(0)
            u32(0)
            u32(1_500_000)
            u32(5)
            u32(60)
            out += [1, 2, 3, 4, 5, 0, 0, 0]
            u32(40)
            // Simple packet of 4 bytes.
            u32(3)
            u32(20)
            u32(4)
            out += [9, 8, 7, 6]
            u32(20)
            let capture = try PacketCapture.read(out)
            #expect(capture.isPcapNG && capture.linkType == PacketCapture.ethernet && capture.snapLength == 2048)
            #expect(capture.packets == [.init(timestamp: 1_500_000_000, data: [1, 2, 3, 4, 5], originalLength: 60), .init(timestamp: 0, data: [9, 8, 7, 6])])
        }
    }

    @Test(
        "bad files are refused, naming the byte",
        arguments: [
            ([UInt8](), "not a capture file"), ([1, 2, 3, 4, 5], "neither pcap's nor pcapng's"),
            ([0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0], "header is cut short"),
        ])
    func refused(_ bytes: [UInt8], _ message: String) {
        #expect(throws: PacketCaptureError.self) { try PacketCapture.read(bytes) }
        do { _ = try PacketCapture.read(bytes) } catch { #expect(error.description.contains(message), "\(error)") }
    }

    @Test("a packet claiming gigabytes is refused, not allocated")
    func hugeLength() throws {
        var bytes = PacketCapture.pcapBytes(packets: [.init(timestamp: 0, data: [1, 2, 3])], linkType: 1, snapLength: 65535)
        bytes[32..<36] = [0xff, 0xff, 0xff, 0x7f]
        #expect(throws: PacketCaptureError.self) { try PacketCapture.read(bytes) }
    }

    /// Mutated and truncated captures of both formats: an error or a capture, never a crash, in
    /// bounded time.
    @Test("fuzzed captures never crash", arguments: 0..<4)
    func fuzz(seed: UInt64) {
        var g = SplitMix64(state: 0x7063_6170_6e67 &+ seed)
        let base = PacketCapture.pcapBytes(packets: TrafficGenerator.capture(count: 20, seed: seed).packets, linkType: 1, snapLength: 65535)
        var parsed = 0
        for _ in 0..<2000 {
            var bytes = base
            if seed % 2 == 1 { bytes.replaceSubrange(0..<4, with: [0x0a, 0x0d, 0x0d, 0x0a]) }  // the same bytes read as pcapng
            for _ in 0..<(1 + Int(g.next() % 8)) {
                let i = Int(g.next() % UInt64(bytes.count))
                bytes[i] = UInt8(truncatingIfNeeded: g.next())
            }
            if g.next() % 4 == 0 { bytes.removeLast(Int(g.next() % UInt64(bytes.count))) }
            if (try? PacketCapture.read(bytes)) != nil { parsed += 1 }
        }
        #expect(parsed >= 0)  // reaching here is the test: no trap on any input
    }
}

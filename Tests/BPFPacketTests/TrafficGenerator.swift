import BPFPacket
import BPFTestSupport

/// Ethernet frames of the kinds filters tell apart: IPv4 and IPv6 with TCP, UDP and ICMP, some
/// VLAN-tagged, IPv4 fragments, ARP, each from a small set of addresses and ports so that
/// filters match some and not others; a frame's timestamp is its index in seconds.
enum TrafficGenerator {
    static let ports: [UInt16] = [22, 53, 80, 443, 8080, 1234]
    static let hosts4: [[UInt8]] = [[10, 0, 0, 1], [10, 0, 0, 2], [192, 168, 1, 10], [8, 8, 8, 8]]
    static let hosts6: [[UInt8]] = [[0xfe, 0x80] + [UInt8](repeating: 0, count: 13) + [1], [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [2]]
    static let macs: [[UInt8]] = [[0, 1, 2, 3, 4, 5], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], [0x01, 0x00, 0x5e, 0, 0, 1], [0x02, 0, 0, 0, 0, 9]]

    static func capture(count: Int, seed: UInt64) -> PacketCapture {
        var g = SplitMix64(state: seed)
        func pick<T>(_ xs: [T]) -> T { xs[Int(g.next() % UInt64(xs.count))] }
        func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }
        var packets: [PacketCapture.Packet] = []
        for i in 0..<count {
            let kind = Int(g.next() % 10)
            let vlan = g.next() % 5 == 0
            let payload = [UInt8](repeating: UInt8(i & 0xff), count: Int(g.next() % 64))
            var l4: [UInt8]
            var proto: UInt8
            switch g.next() % 3 {
            case 0:  // TCP: ports, a data offset of 5, flags
                proto = 6
                l4 =
                    be16(pick(ports)) + be16(pick(ports)) + [0, 0, 0, 1, 0, 0, 0, 0, 0x50, pick([0x02, 0x10, 0x12, 0x18, 0x11, 0x04]), 0xff, 0xff, 0, 0, 0, 0]
            case 1:  // UDP
                proto = 17
                l4 = be16(pick(ports)) + be16(pick(ports)) + be16(UInt16(8 + payload.count)) + [0, 0]
            default:  // ICMP echo (ICMPv6 for IPv6)
                proto = 1
                l4 = [pick([0, 8, 3]), 0, 0, 0, 0, 1, 0, 1]
            }
            l4 += payload
            var frame = pick(macs) + pick(macs)
            if vlan { frame += [0x81, 0x00] + be16(UInt16(g.next() % 4095 + 1)) }
            if kind == 9 {
                // ARP request
                frame += [0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1] + pick(macs) + pick(hosts4) + [0, 0, 0, 0, 0, 0] + pick(hosts4)
            } else if kind >= 6 {
                if proto == 1 { proto = 58 }
                frame += [0x86, 0xdd, 0x60, 0, 0, 0] + be16(UInt16(l4.count)) + [proto, 64] + pick(hosts6) + pick(hosts6) + l4
            } else {
                // A fragment now and then: its offset or more-fragments flag set.
                let fragment: UInt16 = g.next() % 8 == 0 ? pick([0x2000, 0x0010, 0x2020]) : 0x4000
                let total = UInt16(20 + l4.count)
                frame += [0x08, 0x00, 0x45, 0] + be16(total) + [0, UInt8(i & 0xff)] + be16(fragment) + [64, proto, 0, 0] + pick(hosts4) + pick(hosts4)
                frame += l4
            }
            packets.append(PacketCapture.Packet(timestamp: UInt64(i) * 1_000_000_000, data: frame))
        }
        return PacketCapture(linkType: PacketCapture.ethernet, snapLength: 65535, packets: packets)
    }
}

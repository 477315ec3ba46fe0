// Runs the XDP counter (its skeleton: XdpCounter) over the same packets on each backend and
// prints the counts by IP protocol, read as typed values: the lines must agree.
import SwiftBPF

/// An Ethernet + IPv4 frame of `protocol` (6 TCP, 17 UDP), `size` bytes long.
func frame(protocol: UInt8, size: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: size)
    bytes[12] = 0x08  // EtherType IPv4
    bytes[14] = 0x45
    bytes[23] = `protocol`
    return bytes
}

let packets = [frame(protocol: 6, size: 60), frame(protocol: 6, size: 1500), frame(protocol: 17, size: 80), [UInt8](repeating: 0, count: 64)]
/// The counts after the packets on `backend`, or why the backend is not available here.
func counts(on backend: Backend) throws -> String {
    let counter: XdpCounter.Loaded
    do { counter = try XdpCounter().load(on: backend) } catch {
        guard case let .unsupported(_, reason) = error else { throw error }
        return "skipped: \(reason)"
    }
    let program = try counter.program(.countPackets)
    for packet in packets { _ = try program.testRun(data: packet) }
    let counts = try counter.byProtocol.entries().filter { $0.value.packets > 0 }
    return counts.map { "protocol \($0.key): \($0.value.packets) packets, \($0.value.bytes) bytes" }.joined(separator: "; ")
}

for backend in Backend.allCases { print("\(backend): \(try counts(on: backend))") }

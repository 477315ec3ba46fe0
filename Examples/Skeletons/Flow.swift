// The bench's XDP flow counter through its skeleton, on both backends: the same flow counted
// with the same packets and bytes, read as typed keys and values.
import SwiftBPF

/// The flow counts the program leaves after three packets, on `backend`; nil where the backend
/// is unavailable here.
func flowCounts(on backend: Backend, packet: [UInt8]) throws -> String? {
    let skeleton = try SkeletonObjectsBenchFlow()
    let flow: SkeletonObjectsBenchFlow.Loaded
    do { flow = try skeleton.load(on: backend) } catch {
        if case .unsupported = error { return nil }
        throw error
    }
    let program = try flow.program(.benchFlow)
    for _ in 0..<3 { _ = try program.testRun(data: packet) }
    var lines: [String] = []
    for entry in try flow.flows.entries() {
        lines.append("\(entry.key.sport)->\(entry.key.dport): \(entry.value.packets) packets, \(entry.value.bytes) bytes")
    }
    return lines.joined(separator: "; ")
}

@Sendable func checkFlow() throws {
    // An Ethernet + IPv4 + TCP frame: 10.0.0.1:1234 -> 10.0.0.2:80, SYN.
    let packet: [UInt8] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 1, 2, 3, 4, 5, 0x08, 0x00,
        0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        0x04, 0xd2, 0, 80, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x02, 0x20, 0, 0, 0, 0, 0,
    ]
    var seen: [String] = []
    for backend in Backend.allCases {
        if let counts = try flowCounts(on: backend, packet: packet) {
            print("flow (\(backend)): \(counts)")
            seen.append(counts)
        } else {
            print("flow (\(backend)): skipped: the backend is not available here")
        }
    }
    guard let first = seen.first, first.contains("3 packets"), Set(seen).count == 1 else {
        throw CheckFailed(description: "the flow counts differ or are wrong: \(seen)")
    }
    print("== skeletons: the flow program counted the same on \(seen.count) backend(s)")
}

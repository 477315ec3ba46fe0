// Runs one clang-compiled XDP program on both backends: usage: Embedding OBJECT.bpf.o
import SwiftBPF

let object = try OpenedObject(path: CommandLine.arguments.dropFirst().first ?? "flow.bpf.o")
// An Ethernet + IPv4 + TCP frame: 10.0.0.1:1234 -> 10.0.0.2:80, SYN.
let packet: [UInt8] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 1, 2, 3, 4, 5, 0x08, 0x00,
    0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    0x04, 0xd2, 0, 80, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x02, 0x20, 0, 0, 0, 0, 0,
]

for backend in Backend.allCases {  // .userspace, then .kernel: the one argument that differs
    do {
        let loaded = try object.load(on: backend)
        let program = try loaded.program()
        let run = try program.testRun(data: packet, repeat: 1)
        let entries = try loaded.maps.map { "\($0.name): \(try $0.keys().count) entries" }
        print("\(backend): \(program.name) returned \(run.returnValue); \(entries.joined(separator: ", "))")
    } catch BPFError.unsupported(let backend, let reason) {
        print("\(backend): skipped: \(reason)")  // the kernel backend needs Linux and root
    }
}

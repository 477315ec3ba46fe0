import BPFBenchmarks
import BPFPlatform
import BPFTestSupport
import SwiftBPF
import Testing

/// The README's example, as written there (its `packet` the bench's frame), on both backends.
@Test(
    "the README's example runs the same program on both backends",
    .enabled(if: KernelSupport.unavailableReason == nil, Comment(rawValue: KernelSupport.unavailableReason ?? "")),
    .enabled(if: BPFCompiler.unavailableReason == nil, Comment(rawValue: BPFCompiler.unavailableReason ?? "")),
    .enabled(if: SharedFixtures.path("bench") != nil, "../shared/bench is absent"))
func readmeExample() throws {
    let path = temporaryDirectory + "/readme-flow.bpf.o"
    #expect(writeFile(path, try BPFCompiler.compile(SharedFixtures.path("bench")! + "/flow.bpf.c")))
    defer { removeTree(path) }
    let ethernetFrame = BenchmarkPrograms.packet
    var printed: [String] = []
    func print(_ items: Any...) { printed.append(items.map { "\($0)" }.joined(separator: " ")) }

    let object = try OpenedObject(path: path)
    let packet: [UInt8] = ethernetFrame
    for backend in Backend.allCases {
        let loaded = try object.load(on: backend)
        let program = try loaded.program(named: "bench_flow")
        let run = try program.testRun(data: packet, repeat: 1)
        print(backend, run.returnValue, try loaded.map(named: "flows").keys().count)
    }
    #expect(printed == ["userspace 1 1", "kernel 1 1"])
}

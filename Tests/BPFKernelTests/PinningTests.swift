import BPFBenchmarks
import BPFKernel
import BPFObject
import BPFTestSupport
import Foundation
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason
private let bench = SharedFixtures.path("bench")

@Suite("Pinning")
struct PinningTests {
    /// The flow program counts a packet into its map; the map is pinned; every descriptor is
    /// released; the pin still holds the map, its shape and its counts.
    @Test(
        "a pinned map outlives its loader and reopens by path",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: bench != nil, "../shared/bench is absent"))
    func pinnedMap() throws {
        let path = "\(Pinning.root)/swiftbpf-test-flows-\(getpid())"
        var before: [(key: [UInt8], value: [UInt8])] = []
        do {
            let loaded = try KernelObject(try ObjectFile(bytes: try BPFCompiler.compile(bench! + "/flow.bpf.c")))
            for _ in 0..<3 { _ = try loaded.load().testRun(data: BenchmarkPrograms.packet) }
            let flows = try #require(loaded.maps.first)
            try flows.pin(at: path)
            before = try flows.entries()
        }  // every descriptor of the loader is closed here
        #expect(FileManager.default.fileExists(atPath: path))
        let reopened = try KernelMap(pinnedAt: path)
        defer { try? Pinning.unpin(path) }
        #expect(reopened.definition.type == .hash && reopened.definition.keySize == 16 && reopened.definition.valueSize == 16)
        #expect(reopened.definition.name == "flows")
        let after = try reopened.entries()
        #expect(after.count == 1 && before.count == 1)
        #expect(after.first?.value == before.first?.value)
        // 3 packets of 60 bytes, in the flow's counters.
        #expect(after.first.map { Array($0.value.prefix(8)) } == [3, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test(
        "opening a path with nothing pinned is a clear error",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")))
    func missing() {
        #expect {
            _ = try KernelMap(pinnedAt: "\(Pinning.root)/swiftbpf-nothing-here")
        } throws: { error in
            guard let error = error as? KernelError else { return false }
            return error.errno == .ENOENT && error.operation.contains("swiftbpf-nothing-here")
        }
    }
}

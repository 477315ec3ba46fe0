import BPFBenchmarks
import BPFPlatform
import BPFTestSupport
import SwiftBPF
import Testing
@testable import swiftbpf

private let compilerReason = BPFCompiler.unavailableReason

@Suite("trace exec on its skeleton")
struct TraceSkeletonTests {
    @Test("the source trace exec ships is the exec monitor example's, byte for byte")
    func sourceIsTheExample() throws {
        let example = try #require(readFile(repositoryFile("Examples/ExecMonitor/Sources/ExecMonitor/bpf/exec_monitor.bpf.c")))
        #expect(String(decoding: example, as: UTF8.self) == ExecMonitor.source)
    }

    /// The tool's ExecMonitorSkeleton.swift was generated (`gen skeleton --no-embed`) from the
    /// source it ships: a build of that source must have the event's layout the tool reads.
    @Test(
        "the skeleton trace exec reads events through fits a build of the shipped source",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func layoutFits() throws {
        let skeleton = try ExecMonitorSkeleton(objectBytes: try ExecMonitor.compile())
        #expect(skeleton.layoutMismatches() == [])
        #expect(ExecMonitorSkeleton.ExecEvent.byteCount == ExecMonitor.recordSize)
        // An object whose event differs is caught.
        let other = ExecMonitor.source.replacingOccurrences(of: "char comm[16];", with: "char comm[8];")
        let changed = try ExecMonitorSkeleton(objectBytes: try BPFCompiler.compile(text: other, name: "exec_changed.bpf.c"))
        #expect(!changed.layoutMismatches().isEmpty)
    }
}

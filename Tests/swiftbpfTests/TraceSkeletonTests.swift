import BPFBenchmarks
import SwiftBPF
import Testing
@testable import swiftbpf

private let compilerReason = BPFCompiler.unavailableReason

@Suite("trace exec on its skeleton")
struct TraceSkeletonTests {
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

import BPFBenchmarks
import BPFKernel
import BPFObject
import BPFTestSupport
import Foundation
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason

@Suite("The exec monitor in the kernel")
struct ExecMonitorKernelTests {
    /// Attached to syscalls/sys_enter_execve, the monitor sees a process this test spawns, with
    /// its pid and filename, through the kernel's ring buffer read over mmap.
    @Test(
        "it sees a process the test spawns",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func seesSpawnedProcess() throws {
        let object = try KernelObject(try ObjectFile(bytes: try ExecMonitor.compile()))
        let program = try object.load()
        let link = try TracepointLink(program, category: "syscalls", name: "sys_enter_execve")
        let events = try KernelRingBuffer(try #require(object.maps.first { $0.definition.type == .ringbuf }))

        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()

        var seen: [(pid: UInt32, filename: String)] = []
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline, !seen.contains(where: { $0.pid == UInt32(child.processIdentifier) }) {
            _ = events.wait(milliseconds: 100)
            events.consume { record in
                let pid = record.load(as: UInt32.self)
                let filename = String(decoding: record[24..<280].prefix { $0 != 0 }, as: UTF8.self)
                seen.append((pid, filename))
            }
        }
        let mine = seen.first { $0.pid == UInt32(child.processIdentifier) }
        #expect(mine?.filename == "/bin/true", "saw \(seen.count) execs: \(seen.prefix(5).map { "\($0.pid) \($0.filename)" })")
        withExtendedLifetime(link) {}
    }
}

import BPFBenchmarks
import BPFKernel
import BPFTestSupport
import BPFCore
import BPFMaps
import BPFObject
import BPFRuntime
import BPFVM
import BPFVerifier
import BTF
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason

/// A sys_enter_execve record whose filename argument points at `filename`.
private func record(filename: UnsafeRawBufferPointer) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: 16 + 6 * 8)
    withUnsafeBytes(of: UInt64(59).littleEndian) { bytes.replaceSubrange(8..<16, with: $0) }
    withUnsafeBytes(of: UInt64(UInt(bitPattern: filename.baseAddress)).littleEndian) { bytes.replaceSubrange(16..<24, with: $0) }
    return bytes
}

private struct Event {
    var pid: UInt32, uid: UInt32, comm: String, filename: String
    init(_ raw: UnsafeRawBufferPointer) {
        func text(_ range: Range<Int>) -> String { String(decoding: raw[range].prefix { $0 != 0 }, as: UTF8.self) }
        pid = raw.load(as: UInt32.self)
        uid = raw.load(fromByteOffset: 4, as: UInt32.self)
        comm = text(8..<24)
        filename = text(24..<280)
    }
}

@Suite("The exec monitor")
struct ExecMonitorTests {
    @Test(
        "it reports pid, uid, comm and filename through the ring buffer in userspace",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func userspace() throws {
        let object = try ObjectFile(bytes: try ExecMonitor.compile())
        #expect(object.programs.first?.kind == SectionNames.Match(type: .tracepoint, attachTarget: "syscalls/sys_enter_execve"))
        let loaded = try UserspaceObject(object)
        let program = try loaded.load()
        let events = try #require(loaded.map(named: "events") as? RingBufferMap)
        let task = TaskInfo(pid: 4242, tgid: 4242, uid: 1000, gid: 1000, comm: "bash")
        let path = Array("/usr/bin/true\0".utf8)
        try path.withUnsafeBytes { (filename) throws in
            for mode in [ExecutionMode.checked(), .fast, .jit] {
                #expect(try program.run(record: record(filename: filename), readable: [filename], task: task, mode: mode) == 0)
            }
            // Memory the host did not register reads as -EFAULT: the filename comes out empty.
            #expect(try program.run(record: record(filename: filename), task: task) == 0)
        }
        var seen: [Event] = []
        #expect(events.consume { seen.append(Event($0)) } == 4)
        #expect(seen.map(\.pid) == [4242, 4242, 4242, 4242] && seen.map(\.uid) == [1000, 1000, 1000, 1000])
        #expect(seen.map(\.comm) == ["bash", "bash", "bash", "bash"])
        #expect(seen.map(\.filename) == ["/usr/bin/true", "/usr/bin/true", "/usr/bin/true", ""])
        #expect(events.pending == 0)
    }

    @Test(
        "the kernel's verifier accepts the same object",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func kernelLoads() throws {
        let loaded = try KernelObject(try ObjectFile(bytes: try ExecMonitor.compile()))
        #expect(loaded.maps.map(\.definition.type) == [.ringbuf, .array])  // events, .bss
        let program = try loaded.load()
        #expect(program.type == .tracepoint)
    }
}

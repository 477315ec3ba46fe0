import BPFBenchmarks
import BPFKernel
import BPFObject
import BPFTestSupport
import Foundation
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason

/// Counts one thread's getppid calls from the syscall's tracepoint.
private func source(tid: Int32) -> String {
    """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    const volatile __u32 target_tid = \(tid);
    __u64 calls;
    SEC("tp/syscalls/sys_enter_getppid") int on_getppid(void *ctx) {
        if ((__u32)bpf_get_current_pid_tgid() == target_tid) __sync_fetch_and_add(&calls, 1);
        return 0;
    }
    char LICENSE[] SEC("license") = "GPL";
    """
}

@Suite("Tracepoints", .serialized)
struct TracepointTests {
    /// Through a bpf_link and through the perf event ioctl (what kernels before 5.15 have): the
    /// program sees each call until the attachment is released.
    @Test(
        "a tracepoint program sees each call through a link and through the ioctl, until released",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        arguments: [PerfEventAttachment.link, .ioctl])
    func countsCalls(mode: PerfEventAttachment) throws {
        let tid = currentThreadID()
        let object = try KernelObject(try ObjectFile(bytes: try BPFCompiler.compile(text: source(tid: tid), name: "tp-\(tid).bpf.c")))
        let bss = try #require(object.map(named: ".bss"))
        func calls() throws -> UInt64 { littleEndianValue(try #require(try bss.lookup([0, 0, 0, 0]))) }
        var link: TracepointLink? = try TracepointLink(try object.load(), category: "syscalls", name: "sys_enter_getppid", using: mode)
        #expect((link?.linkFD != nil) == (mode == .link))
        for _ in 0..<30 { _ = getppid() }
        #expect(try calls() == 30)
        link = nil
        for _ in 0..<30 { _ = getppid() }
        #expect(try calls() == 30, "the program still ran after its attachment was released")
        withExtendedLifetime(link) {}
    }
}

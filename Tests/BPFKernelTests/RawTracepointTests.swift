import BPFBenchmarks
import BPFKernel
import BPFObject
import BPFTestSupport
import Foundation
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason

/// Counts the syscalls one thread enters (its id is compiled into .rodata): other test threads
/// of this process make syscalls of their own.
private func source(tid: Int32) -> String {
    """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    const volatile __u32 target_tid = \(tid);
    struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } hits SEC(".maps");
    SEC("raw_tp/sys_enter") int on_sys_enter(void *ctx) {
        if ((__u32)bpf_get_current_pid_tgid() != target_tid) return 0;
        __u32 zero = 0;
        __u64 *n = bpf_map_lookup_elem(&hits, &zero);
        if (n) __sync_fetch_and_add(n, 1);
        return 0;
    }
    char LICENSE[] SEC("license") = "GPL";
    """
}

@Suite("Raw tracepoints", .serialized)
struct RawTracepointTests {
    @Test(
        "a raw tracepoint program sees this process's syscalls until its attachment is released",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func countsSyscalls() throws {
        let tid = currentThreadID()  // the test body runs on this one thread
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source(tid: tid), name: "rawtp-\(tid).bpf.c"))
        let loaded = try KernelObject(object)
        let hits = try #require(loaded.map(named: "hits"))
        func count() throws -> UInt64 {
            try hits.lookup([0, 0, 0, 0]).map { littleEndianValue($0) } ?? 0
        }
        var link: RawTracepointLink? = try RawTracepointLink(try loaded.load(), name: "sys_enter")
        for _ in 0..<25 { _ = getpid() }
        let attached = try count()
        #expect(attached >= 25, "counted \(attached) syscalls for 25 getpid calls")
        link = nil  // the close() that detaches is itself counted as it enters
        let released = try count()
        for _ in 0..<25 { _ = getpid() }
        #expect(try count() == released, "the program still counted after release")
        #expect(released - attached <= 2)
        withExtendedLifetime(link) {}
    }
}

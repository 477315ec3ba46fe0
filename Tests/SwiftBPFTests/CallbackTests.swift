import BPFBenchmarks
import SwiftBPF
import Testing

private let compilerReason = BPFCompiler.unavailableReason
private let kernelReason = KernelSupport.unavailableReason

/// bpf_loop callbacks, verified as the kernel verifies them: iterations until the state at the
/// call converges, numbers that only count widened; the callback's return range and its use of
/// the context it is given.
@Suite(
    "Callbacks: our verdicts and the kernel's", .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
    .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")))
struct CallbackTests {
    @Test("bpf_loop: summing into the caller's stack, a NULL context, a bad return value, a NULL dereference")
    func loops() throws {
        let file = try ObjectFile(
            bytes: try BPFCompiler.compile(
                text: """
                    #include <linux/bpf.h>
                    #include <bpf/bpf_helpers.h>
                    struct ctx_t { __u64 sum; __u64 last; };
                    static long step(__u32 i, void *data) { struct ctx_t *c = data; c->sum += i; c->last = i; return 0; }
                    static long stop(__u32 i, void *data) { return i > 2; }
                    static long bad_ret(__u32 i, void *data) { return 2; }
                    static long deref(__u32 i, void *data) { return *(long *)data > 0; }
                    SEC("tracepoint/syscalls/sys_enter_getppid") int sums(void *ctx) { struct ctx_t c = {}; bpf_loop(4, step, &c, 0); return c.sum; }
                    SEC("tracepoint/syscalls/sys_enter_getppid") int stops(void *ctx) { return bpf_loop(4, stop, 0, 0); }
                    SEC("tracepoint/syscalls/sys_enter_getppid") int returns_two(void *ctx) { return bpf_loop(4, bad_ret, 0, 0); }
                    SEC("tracepoint/syscalls/sys_enter_getppid") int reads_null(void *ctx) { return bpf_loop(4, deref, 0, 0); }
                    char LICENSE[] SEC("license") = "GPL";
                    """, name: "loop.bpf.c"))
        let results = VerdictComparison.compare(file, target: BTF.vmlinux)
        let classes = Dictionary(uniqueKeysWithValues: results.map { ($0.program, $0.category) })
        #expect(classes == ["sums": "A", "stops": "A", "returns_two": "B", "reads_null": "B"], "\(results)")
        let ours = Dictionary(uniqueKeysWithValues: results.map { ($0.program, $0.ours ?? "accepted") })
        #expect(ours["returns_two"] == "At callback return the register R0 has smin=2 smax=2 should have been in [0, 1]")
        #expect(ours["reads_null"] == "R2 invalid mem access 'scalar'")
    }
}

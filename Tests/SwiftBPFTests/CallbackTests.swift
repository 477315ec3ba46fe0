import BPFBenchmarks
import SwiftBPF
import Testing

private let compilerReason = BPFCompiler.unavailableReason
private let kernelReason = KernelSupport.unavailableReason

/// bpf_loop and bpf_for_each_map_elem callbacks, verified as the kernel verifies them: iterations until the state at the
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
        let classes = results.categories
        #expect(classes == ["sums": "A", "stops": "A", "returns_two": "B", "reads_null": "B"], "\(results)")
        let ours = results.ours
        #expect(ours["returns_two"] == "At callback return the register R0 has smin=2 smax=2 should have been in [0, 1]")
        #expect(ours["reads_null"] == "R2 invalid mem access 'scalar'")
    }

    @Test("bpf_for_each_map_elem: keys read-only, values bounded, maps that cannot be iterated")
    func forEach() throws {
        let file = try ObjectFile(
            bytes: try BPFCompiler.compile(
                text: """
                    #include <linux/bpf.h>
                    #include <bpf/bpf_helpers.h>
                    struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, __u32); __type(value, __u64); } counts SEC(".maps");
                    struct { __uint(type, BPF_MAP_TYPE_QUEUE); __uint(max_entries, 4); __type(value, __u64); } queue SEC(".maps");
                    struct acc { __u64 sum; __u32 keys; };
                    static long add(void *map, __u32 *key, __u64 *value, struct acc *a) { a->sum += *value; a->keys += *key; *value = 0; return 0; }
                    static long write_key(void *map, __u32 *key, __u64 *value, void *ctx) { *key = 1; return 0; }
                    static long past_value(void *map, __u32 *key, __u64 *value, void *ctx) { return value[1] > 0; }
                    SEC("xdp") int sums(struct xdp_md *ctx) { struct acc a = {}; bpf_for_each_map_elem(&counts, add, &a, 0); return a.sum; }
                    SEC("xdp") int writes_key(struct xdp_md *ctx) { return bpf_for_each_map_elem(&counts, write_key, 0, 0); }
                    SEC("xdp") int reads_past_value(struct xdp_md *ctx) { return bpf_for_each_map_elem(&counts, past_value, 0, 0); }
                    SEC("xdp") int on_queue(struct xdp_md *ctx) { return bpf_for_each_map_elem(&queue, past_value, 0, 0); }
                    char LICENSE[] SEC("license") = "GPL";
                    """, name: "foreach.bpf.c"))
        let results = VerdictComparison.compare(file, target: BTF.vmlinux)
        let classes = results.categories
        #expect(classes == ["sums": "A", "writes_key": "B", "reads_past_value": "B", "on_queue": "B"], "\(results)")
        let ours = results.ours
        #expect(ours["writes_key"] == "write to change key R2 not allowed")
        #expect(ours["reads_past_value"]?.hasPrefix("invalid access to map value, value_size=8 off=8 size=8") == true)
    }
}

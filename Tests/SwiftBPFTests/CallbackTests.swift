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

    @Test("runs: bpf_loop and bpf_for_each_map_elem give the kernel's results in the userspace runtime, interpreted and compiled")
    func runs() throws {
        let object = try OpenedObject(
            bytes: try BPFCompiler.compile(
                text: """
                    #include <linux/bpf.h>
                    #include <bpf/bpf_helpers.h>
                    struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, __u32); __type(value, __u64); } counts SEC(".maps");
                    struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } slots SEC(".maps");
                    struct ctx_t { __u64 sum; __u64 last; };
                    struct acc { __u64 sum; __u32 keys; };
                    static long step(__u32 i, void *data) { struct ctx_t *c = data; c->sum += i; c->last = i; return 0; }
                    static long stop_at_five(__u32 i, void *data) { return i >= 5; }
                    static long add(void *map, __u32 *key, __u64 *value, struct acc *a) { a->sum += *value; a->keys += *key; *value += 1; return 0; }
                    static long first_two(void *map, __u32 *key, __u64 *value, struct acc *a) { a->keys++; return *key >= 1; }
                    SEC("xdp") int loop_sum(struct xdp_md *ctx) { struct ctx_t c = {}; long n = bpf_loop(10, step, &c, 0); return c.sum * 100 + c.last * 10 + n; }
                    SEC("xdp") int loop_stop(struct xdp_md *ctx) { return bpf_loop(10, stop_at_five, 0, 0); }
                    SEC("xdp") int loop_flags(struct xdp_md *ctx) { return bpf_loop(1, stop_at_five, 0, 1); }
                    SEC("xdp") int loop_too_many(struct xdp_md *ctx) { return bpf_loop((1 << 23) + 1, stop_at_five, 0, 0); }
                    SEC("xdp") int hash_sum(struct xdp_md *ctx) {
                        __u32 k1 = 1, k2 = 2, k3 = 3; __u64 v1 = 10, v2 = 20, v3 = 30;
                        bpf_map_update_elem(&counts, &k1, &v1, 0); bpf_map_update_elem(&counts, &k2, &v2, 0); bpf_map_update_elem(&counts, &k3, &v3, 0);
                        struct acc a = {};
                        long n = bpf_for_each_map_elem(&counts, add, &a, 0);
                        return a.sum * 1000 + a.keys * 10 + n;
                    }
                    SEC("xdp") int array_stop(struct xdp_md *ctx) { struct acc a = {}; return bpf_for_each_map_elem(&slots, first_two, &a, 0) * 10 + a.keys; }
                    char LICENSE[] SEC("license") = "GPL";
                    """, name: "callback-runs.bpf.c"))
        let packet = [UInt8](repeating: 0, count: 64)
        let expected: [String: UInt32] = [
            "loop_sum": 4500 + 90 + 10, "loop_stop": 6, "loop_flags": UInt32(bitPattern: -22), "loop_too_many": UInt32(bitPattern: -7),
            "hash_sum": 60 * 1000 + 6 * 10 + 3, "array_stop": 22,
        ]
        var userspaceModes: [ExecutionMode] = [.fast, .checked()]
        if JITProgram.isSupported { userspaceModes.append(.jit) }
        for (name, value) in expected {
            let kernel = try object.load(on: .kernel).program(named: name).testRun(data: packet, repeat: 1).returnValue
            #expect(kernel == value, "\(name) in the kernel")
            for mode in userspaceModes {
                let program = try #require(try object.load(on: .userspace).program(named: name).userspaceProgram)
                let ours = try program.testRun(data: packet, repeat: 1, mode: mode).returnValue
                #expect(ours == value, "\(name), \(mode)")
            }
        }
    }

    /// Found accepted only by us: the callback's return depends on a counter it keeps in its
    /// caller's stack as a 4-byte spill, which the kernel tracks exactly, so every iteration's
    /// state is new and its verifier gives up at a million instructions; SwiftBPF lost the
    /// counter's value (no narrow spills), converged, and accepted. Now it tracks narrow spills
    /// and does not converge either (checked here under a lower limit, to stay quick; the
    /// kernel's own refusal takes it most of a minute, so `swiftbpf verify --kernel-compare`
    /// on this program is where the two are seen side by side: both refuse).
    @Test("a callback stopping on a counter in its caller's stack converges in neither verifier")
    func counterNeverConverges() throws {
        let file = try ObjectFile(
            bytes: try BPFCompiler.compile(
                text: """
                    #include <linux/bpf.h>
                    #include <bpf/bpf_helpers.h>
                    struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } slots SEC(".maps");
                    struct count { __u64 sum; __u32 seen; };
                    static long counted(void *map, __u32 *key, __u64 *value, struct count *c) { c->seen++; return c->seen >= 2; }
                    SEC("xdp") int stops_on_count(struct xdp_md *ctx) { struct count c = {}; return bpf_for_each_map_elem(&slots, counted, &c, 0) + c.seen; }
                    char LICENSE[] SEC("license") = "GPL";
                    """, name: "counter.bpf.c"))
        let linked = try file.link(try file.program(selecting: "stops_on_count"))
        var code = linked.instructions
        for reference in linked.mapReferences {
            code[reference.instruction].src = WideImmediateKind.mapIndex.rawValue
            code[reference.instruction].imm = Int32(reference.map)
        }
        var configuration = Verifier.Configuration(programType: .xdp, maps: file.maps.map(\.shape))
        configuration.hasFunctionInfo = true
        configuration.complexityLimit = 20_000
        #expect(throws: VerificationError.self) { try Verifier.verify(code, configuration) }
        do { _ = try Verifier.verify(code, configuration) } catch { #expect(error.message.hasPrefix("BPF program is too large"), "\(error)") }
    }
}

import BPFBenchmarks
import BPFKernel
import BPFObject
import BPFTestSupport
import BPFCore
import BPFMaps
import BPFRuntime
import BPFVM
import BPFVerifier
import BTF
import Testing

private let compilerReason = BPFCompiler.unavailableReason
private let kernelReason = KernelSupport.unavailableReason

/// A counter in an array map value guarded by the value's `struct bpf_spin_lock`; with
/// `leak`, one path returns while still holding the lock.
private func source(leak: Bool) -> String {
    """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    struct value { struct bpf_spin_lock lock; __u64 count; };
    struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct value); } counters SEC(".maps");
    SEC("xdp") int count(struct xdp_md *ctx) {
        __u32 zero = 0;
        struct value *v = bpf_map_lookup_elem(&counters, &zero);
        if (!v) return XDP_ABORTED;
        bpf_spin_lock(&v->lock);
        v->count++;
        \(leak ? "if (v->count > 5) return XDP_DROP;" : "")
        bpf_spin_unlock(&v->lock);
        return XDP_PASS;
    }
    char LICENSE[] SEC("license") = "GPL";
    """
}

@Suite("Spin locks in map values")
struct SpinLockTests {
    @Test(
        "a counter under bpf_spin_lock: the lock is found in the value's BTF, verified, taken and released",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func counter() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source(leak: false), name: "lock.bpf.c"))
        #expect(object.maps.first?.spinLockOffset == 0)
        let runtime = try UserspaceObject(object)
        let program = try runtime.load()
        for mode in [ExecutionMode.checked(), .fast, program.defaultMode] {
            for _ in 0..<100 { #expect(try program.testRun(data: BenchmarkPrograms.packet, mode: mode).returnValue == 2) }
        }
        let value = try #require(try runtime.maps[0].lookup([0, 0, 0, 0] as [UInt8]))
        #expect(value.prefix(4).allSatisfy { $0 == 0 }, "the lock was left taken")
        #expect(littleEndianValue(Array(value[8..<16])) == 300)
    }

    @Test(
        "a path that returns holding the lock is refused at load, with its source line",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func leak() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source(leak: true), name: "leak.bpf.c"))
        let error = try #require(throws: RuntimeError.self) { try UserspaceObject(object).load() }
        let refusal = try #require(error.verification)
        #expect(refusal.message == "bpf_spin_unlock is missing")
        #expect(refusal.sourceLine?.contains("leak.bpf.c") == true, "\(refusal)")
    }

    @Test(
        "the kernel takes the same object: the lock's map is created with its BTF, counts the same, and refuses the leak at its source line",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")))
    func againstKernel() throws {
        let kernel = try KernelObject(try ObjectFile(bytes: try BPFCompiler.compile(text: source(leak: false), name: "lock.bpf.c")))
        let program = try kernel.load()
        for _ in 0..<300 { #expect(try program.testRun(data: BenchmarkPrograms.packet).returnValue == 2) }
        let value = try #require(try kernel.maps[0].lookup([0, 0, 0, 0]))
        #expect(littleEndianValue(Array(value[8..<16])) == 300)

        let leaking = try KernelObject(try ObjectFile(bytes: try BPFCompiler.compile(text: source(leak: true), name: "leak.bpf.c")))
        let error = try #require(throws: KernelError.self) { try leaking.load() }
        let log = error.log ?? ""
        #expect(log.contains("bpf_spin_unlock") || log.contains("spin_lock"), "\(log)")
        // With line info the kernel prints the C source above the instructions it walks.
        #expect(log.contains("@ leak.bpf.c:"), "\(log)")
    }
}

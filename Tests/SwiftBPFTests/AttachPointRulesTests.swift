import BPFBenchmarks
import BPFTestSupport
import SwiftBPF
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason
private let vmlinuxReason: String? = BTF.vmlinux == nil ? "the kernel has no BTF (/sys/kernel/btf/vmlinux)" : nil

/// tp_btf programs on `sched_switch(bool preempt, struct task_struct *prev, struct task_struct
/// *next, unsigned int prev_state)`: each verdict ours beside the kernel's (btf_ctx_access).
private let source = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    struct task_struct;
    #define TP SEC("tp_btf/sched_switch")
    TP int arguments(unsigned long long *ctx) {
        unsigned long long prev = ctx[1], state = ctx[3];
        int pid = 0;
        bpf_probe_read_kernel(&pid, sizeof(pid), (char *)prev + 8);
        return (pid + state + ctx[0]) > 1000 ? 0 : 0;
    }
    TP int current_task(unsigned long long *ctx) {
        struct task_struct *task = bpf_get_current_task_btf();
        int v = 0;
        bpf_probe_read_kernel(&v, sizeof(v), task);
        return 0;
    }
    TP int misaligned(unsigned long long *ctx) { return ((unsigned int *)ctx)[1]; }
    TP int beyond(unsigned long long *ctx) { return ctx[4]; }
    TP int narrow_pointer(unsigned long long *ctx) { return ((unsigned int *)ctx)[2]; }
    TP int bitwise(unsigned long long *ctx) { unsigned long long p = ctx[2]; asm volatile("%0 &= 0xff" : "+r"(p)); return p; }
    TP int writes(unsigned long long *ctx) { ctx[0] = 1; return 0; }
    char LICENSE[] SEC("license") = "GPL";
    """

@Suite(
    "Attach points' rules against the kernel's: tracing contexts, return codes",
    .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
    .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
    .enabled(if: vmlinuxReason == nil, Comment(rawValue: vmlinuxReason ?? "")))
struct AttachPointRulesTests {
    @Test("arguments by their BTF types: numbers, trusted pointers passed on; misaligned, beyond, narrow, bitwise and writes refused by both")
    func verdicts() throws {
        let file = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "tracing.bpf.c"))
        let results = VerdictComparison.compare(file, target: BTF.vmlinux)
        let classes = results.categories
        #expect(
            classes == [
                "arguments": "A", "current_task": "A", "misaligned": "B", "beyond": "B", "narrow_pointer": "B", "bitwise": "B", "writes": "B",
            ], "\(results)")
        let bitwise = try #require(results.first { $0.program == "bitwise" })
        #expect(bitwise.ours?.contains("bitwise operator &= on pointer prohibited") == true, "\(bitwise)")
    }

    @Test("fentry and fexit programs must return 0, as check_return_code says")
    func returnCode() throws {
        let file = try ObjectFile(
            bytes: try BPFCompiler.compile(
                text: """
                    #include <linux/bpf.h>
                    #include <bpf/bpf_helpers.h>
                    SEC("fentry/__x64_sys_getppid") int zero(void *ctx) { return 0; }
                    SEC("fentry/__x64_sys_getppid") int one(void *ctx) { return 1; }
                    char LICENSE[] SEC("license") = "GPL";
                    """, name: "fentry.bpf.c"))
        _ = try file.verify(program: "zero", target: BTF.vmlinux)
        #expect {
            _ = try file.verify(program: "one", target: BTF.vmlinux)
        } throws: { error in
            (error as? RuntimeError)?.verification?.message.contains("should have been in [0, 0]") == true
        }
    }

    @Test("cgroup_skb programs return 0 or 1, egress ones up to 3, in both verifiers")
    func cgroupReturnCodes() throws {
        let file = try ObjectFile(
            bytes: try BPFCompiler.compile(
                text: """
                    #include <linux/bpf.h>
                    #include <bpf/bpf_helpers.h>
                    SEC("cgroup_skb/ingress") int ingress_one(struct __sk_buff *skb) { return 1; }
                    SEC("cgroup_skb/ingress") int ingress_two(struct __sk_buff *skb) { return 2; }
                    SEC("cgroup_skb/egress") int egress_three(struct __sk_buff *skb) { return 3; }
                    SEC("cgroup_skb/egress") int egress_four(struct __sk_buff *skb) { return 4; }
                    SEC("cgroup_skb/ingress") int ingress_unknown(struct __sk_buff *skb) { return skb->len; }
                    char LICENSE[] SEC("license") = "GPL";
                    """, name: "cgroup-return.bpf.c"))
        let results = VerdictComparison.compare(file, target: nil)
        let classes = results.categories
        #expect(classes == ["ingress_one": "A", "ingress_two": "B", "egress_three": "A", "egress_four": "B", "ingress_unknown": "B"], "\(results)")
        let two = try #require(results.first { $0.program == "ingress_two" })
        #expect(two.ours == "At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]")
    }

    /// LSM programs: the hook's arguments, then the return value of the programs before, an int
    /// in [-4095, 0]; the program returns 0 or a negative errno. (This kernel refuses LSM loads:
    /// our verdicts only.)
    @Test("LSM programs: the hook's typed arguments, the previous return value bounded, errno returns")
    func lsm() throws {
        let file = try ObjectFile(
            bytes: try BPFCompiler.compile(
                text: """
                    #include <linux/bpf.h>
                    #include <bpf/bpf_helpers.h>
                    struct file { unsigned int f_flags; } __attribute__((preserve_access_index));
                    SEC("lsm/file_open") int passes_on(unsigned long long *ctx) { int ret = ctx[1]; return ret ? ret : 0; }
                    SEC("lsm/file_open") int denies(unsigned long long *ctx) { struct file *f = (void *)ctx[0]; if (f->f_flags == 1234) return -13; return 0; }
                    SEC("lsm/file_open") int positive(unsigned long long *ctx) { return 1; }
                    SEC("lsm/file_open") int past_return(unsigned long long *ctx) { return ctx[2] ? -1 : 0; }
                    char LICENSE[] SEC("license") = "GPL";
                    """, name: "lsm.bpf.c"))
        for accepted in ["passes_on", "denies"] { _ = try file.verify(program: accepted, target: BTF.vmlinux) }
        for (refused, message) in [("positive", "should have been in [-4095, 0]"), ("past_return", "invalid bpf_context access off=16")] {
            #expect {
                _ = try file.verify(program: refused, target: BTF.vmlinux)
            } throws: { error in
                (error as? RuntimeError)?.verification?.message.contains(message) == true
            }
        }
    }
}

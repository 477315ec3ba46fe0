import BPFBenchmarks
import SwiftBPF
import Testing

private let compilerReason = BPFCompiler.unavailableReason
private let kernelReason = KernelSupport.unavailableReason
private let btfReason = BTF.vmlinux == nil ? "the kernel has no BTF at /sys/kernel/btf/vmlinux" : nil

/// Reads through kernel object pointers (tp_btf arguments): the BTF walk's verdicts against the
/// kernel's, program by program.
@Suite(
    "Kernel object reads: our verdicts and the kernel's", .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
    .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")), .enabled(if: btfReason == nil, Comment(rawValue: btfReason ?? "")))
struct KernelObjectReadTests {
    @Test("walks, partial pointers, writes, reads past the end, trusted and untrusted sockets")
    func verdicts() throws {
        let file = try ObjectFile(
            bytes: try BPFCompiler.compile(
                text: """
                    #include <linux/bpf.h>
                    #include <bpf/bpf_helpers.h>
                    struct task_struct { int pid; int tgid; char comm[16]; struct task_struct *real_parent; } __attribute__((preserve_access_index));
                    SEC("tp_btf/sched_switch") int walk(unsigned long long *ctx) {
                        struct task_struct *prev = (void *)ctx[1];
                        return prev->real_parent->real_parent->tgid + prev->comm[3];
                    }
                    SEC("tp_btf/sched_switch") int half_pointer(unsigned long long *ctx) {
                        struct task_struct *prev = (void *)ctx[1];
                        return *(int *)&prev->real_parent;
                    }
                    SEC("tp_btf/sched_switch") int write(unsigned long long *ctx) {
                        struct task_struct *prev = (void *)ctx[1];
                        prev->pid = 0;
                        return 0;
                    }
                    SEC("tp_btf/sched_switch") int past_end(unsigned long long *ctx) {
                        struct task_struct *prev = (void *)ctx[1];
                        return *(int *)((char *)prev + (1 << 20));
                    }
                    struct sock_common { unsigned short skc_family; } __attribute__((preserve_access_index));
                    struct sock { struct sock_common __sk_common; } __attribute__((preserve_access_index));
                    struct sk_buff { struct sock *sk; } __attribute__((preserve_access_index));
                    SEC("tp_btf/tcp_probe") int cookie(unsigned long long *ctx) { return bpf_get_socket_cookie((void *)ctx[0]); }
                    SEC("tp_btf/kfree_skb") int walked_cookie(unsigned long long *ctx) {
                        struct sk_buff *skb = (void *)ctx[0];
                        return bpf_get_socket_cookie(skb->sk);
                    }
                    char LICENSE[] SEC("license") = "GPL";
                    """, name: "walk.bpf.c"))
        let results = VerdictComparison.compare(file, target: BTF.vmlinux)
        let classes = results.categories
        #expect(
            classes == ["walk": "A", "half_pointer": "B", "write": "B", "past_end": "B", "cookie": "A", "walked_cookie": "B"], "\(results)")
        let messages = results.ours
        #expect(messages["half_pointer"]?.contains("cannot access ptr member real_parent") == true)
        #expect(messages["write"]?.contains("only read is supported") == true)
        #expect(messages["past_end"]?.contains("access beyond struct task_struct") == true)
        // skb->sk is RCU-protected and may be NULL: bpf_get_socket_cookie takes no such pointer.
        #expect(messages["walked_cookie"]?.contains("type=rcu_ptr_or_null_") == true)
    }
}

import BPFBenchmarks
import SwiftBPF
import Testing

private let compilerReason = BPFCompiler.unavailableReason
private let kernelReason = KernelSupport.unavailableReason
private let btfReason = BTF.vmlinux == nil ? "the kernel has no BTF at /sys/kernel/btf/vmlinux" : nil

/// Kernel function (kfunc) calls: `__ksym` externs resolved against the kernel's BTF, then the
/// calls verified against the prototype and the kfunc's flags, program by program against the
/// kernel's verdicts.
@Suite(
    "Kernel function calls: our verdicts and the kernel's", .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
    .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")), .enabled(if: btfReason == nil, Comment(rawValue: btfReason ?? "")))
struct KernelFunctionCallTests {
    @Test("acquire and release, NULL checks, leaks, use after release, trust, availability, weak externs")
    func verdicts() throws {
        let file = try ObjectFile(
            bytes: try BPFCompiler.compile(
                text: """
                    #include <linux/bpf.h>
                    #include <bpf/bpf_helpers.h>
                    struct task_struct { int pid; int tgid; struct task_struct *real_parent; } __attribute__((preserve_access_index));
                    struct cgroup;
                    extern struct task_struct *bpf_task_from_pid(int pid) __ksym;
                    extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
                    extern void bpf_task_release(struct task_struct *p) __ksym;
                    extern struct cgroup *bpf_cgroup_from_id(unsigned long long cgid) __ksym;
                    extern void bpf_cgroup_release(struct cgroup *cgrp) __ksym;
                    extern void no_such_kfunc(int x) __ksym __weak;
                    #define TP SEC("tracepoint/syscalls/sys_enter_getppid")
                    TP int paired(void *ctx) {
                        struct task_struct *t = bpf_task_from_pid(1);
                        if (!t) return 0;
                        int pid = t->tgid;
                        bpf_task_release(t);
                        return pid;
                    }
                    TP int leaks(void *ctx) { struct task_struct *t = bpf_task_from_pid(1); return t ? 1 : 0; }
                    TP int unchecked(void *ctx) { struct task_struct *t = bpf_task_from_pid(1); bpf_task_release(t); return 0; }
                    TP int after_release(void *ctx) {
                        struct task_struct *t = bpf_task_from_pid(1);
                        if (!t) return 0;
                        bpf_task_release(t);
                        return t->pid;
                    }
                    TP int releases_unacquired(void *ctx) { bpf_task_release(bpf_get_current_task_btf()); return 0; }
                    TP int acquires_current(void *ctx) {
                        struct task_struct *t = bpf_task_acquire(bpf_get_current_task_btf());
                        if (t) bpf_task_release(t);
                        return 0;
                    }
                    TP int acquires_walked(void *ctx) {
                        struct task_struct *t = bpf_task_acquire(bpf_get_current_task_btf()->real_parent);
                        if (t) bpf_task_release(t);
                        return 0;
                    }
                    TP int wrong_type(void *ctx) {
                        struct cgroup *c = bpf_cgroup_from_id(1);
                        if (c) bpf_task_release((struct task_struct *)c);
                        return 0;
                    }
                    TP int cgroups(void *ctx) { struct cgroup *c = bpf_cgroup_from_id(1); if (c) bpf_cgroup_release(c); return 0; }
                    TP int weak_missing(void *ctx) { if (!!no_such_kfunc) no_such_kfunc(1); return 0; }
                    TP int weak_called(void *ctx) { no_such_kfunc(1); return 0; }
                    SEC("socket") int not_allowed(void *ctx) { struct task_struct *t = bpf_task_from_pid(1); if (t) bpf_task_release(t); return 0; }
                    char LICENSE[] SEC("license") = "GPL";
                    """, name: "kfunc.bpf.c"))
        let results = VerdictComparison.compare(file, target: BTF.vmlinux)
        #expect(
            results.categories == [
                "paired": "A", "leaks": "B", "unchecked": "B", "after_release": "B", "releases_unacquired": "B", "acquires_current": "A",
                "acquires_walked": "A", "wrong_type": "B", "cgroups": "A", "weak_missing": "A", "weak_called": "B", "not_allowed": "B",
            ], "\(results)")
        let ours = results.ours
        #expect(ours["leaks"]?.hasPrefix("Unreleased reference") == true)
        #expect(ours["unchecked"] == "Possibly NULL pointer passed to trusted arg0")
        #expect(ours["after_release"]?.contains("invalid mem access 'scalar'") == true)
        #expect(ours["releases_unacquired"] == "release kernel function bpf_task_release expects refcounted PTR_TO_BTF_ID")
        #expect(ours["wrong_type"]?.contains("expected pointer to STRUCT task_struct but R1 has a pointer to STRUCT cgroup") == true)
        #expect(ours["weak_called"]?.contains("invalid func unknown#195896080") == true)
        #expect(ours["not_allowed"] == "calling kernel function bpf_task_from_pid is not allowed")
    }
}

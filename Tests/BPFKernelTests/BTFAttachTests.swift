import BPFBenchmarks
import BPFCore
import BPFKernel
import BPFObject
import BPFTestSupport
import BTF
import Testing
#if canImport(Glibc)
import Glibc
#endif

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason

/// getppid's body, as the kernel's BTF names it (the arch's syscall wrappers alias it).
private let getppidFunction = "__do_sys_getppid"
private let getppidID = BTF.vmlinux?.typeID(named: getppidFunction) { if case .function = $0 { true } else { false } }

/// Why fentry programs cannot run here, or nil: a kernel built without BPF trampolines (or one
/// that forbids them) refuses even `r0 = 0; exit` at a function's entry. (This VM's kernel
/// does, with EPERM, and refuses `bpftool prog load` of an fentry object the same way.)
private let fentryReason: String? = {
    if let kernelReason { return kernelReason }
    guard let getppidID else { return "the kernel's BTF has no \(getppidFunction)" }
    do {
        _ = try KernelProgram(
            type: .tracing, instructions: [Instruction(opcode: 0xb7), Instruction(opcode: 0x95)], license: "GPL",
            expectedAttachType: .traceFentry, attachBTFID: UInt32(getppidID))
        return nil
    } catch {
        return "this kernel refuses fentry programs: even `r0 = 0; exit` at \(getppidFunction)'s entry gets \(error)"
    }
}()

/// Counts one thread's getppid calls: at the raw syscall tracepoint with BTF-typed arguments
/// (tp_btf), and at the syscall function's entry (fentry), both found in vmlinux's BTF.
private func source(tid: Int32) -> String {
    """
    #include <linux/bpf.h>
    #include <asm/unistd.h>
    #include <bpf/bpf_helpers.h>
    const volatile __u32 target_tid = \(tid);
    __u64 tracepoint_hits = 0, entries = 0;
    SEC("tp_btf/sys_enter") int on_sys_enter(unsigned long long *ctx) {
        if ((__u32)bpf_get_current_pid_tgid() == target_tid && ctx[1] == __NR_getppid) __sync_fetch_and_add(&tracepoint_hits, 1);
        return 0;
    }
    SEC("fentry/\(getppidFunction)") int on_getppid(unsigned long long *ctx) {
        if ((__u32)bpf_get_current_pid_tgid() == target_tid) __sync_fetch_and_add(&entries, 1);
        return 0;
    }
    SEC("fentry/no_such_kernel_function_anywhere") int nowhere(unsigned long long *ctx) { return 0; }
    SEC("tp_btf/no_such_tracepoint_anywhere") int nowhere_tp(unsigned long long *ctx) { return 0; }
    char LICENSE[] SEC("license") = "GPL";
    """
}

@Suite("BTF-attached programs", .serialized)
struct BTFAttachTests {
    /// Loads the object for this thread, attaches `program`, calls getppid 10 times attached
    /// and 10 times released, and returns the `.bss` counter at `slot` after each ten.
    private func count(_ program: String, slot: Int) throws -> (attached: UInt64, released: UInt64) {
        let tid = currentThreadID()  // the test body runs on this one thread
        let loaded = try KernelObject(try ObjectFile(bytes: try BPFCompiler.compile(text: source(tid: tid), name: "btf-attach.bpf.c")))
        let bss = try #require(loaded.map(named: ".bss"))
        func value() throws -> UInt64 { littleEndianValue(try #require(try bss.lookup([0, 0, 0, 0])).dropFirst(8 * slot).prefix(8)) }
        var link: RawTracepointLink? = try RawTracepointLink(attaching: try loaded.load(program: program))
        for _ in 0..<10 { _ = getppid() }
        let attached = try value()
        link = nil
        for _ in 0..<10 { _ = getppid() }
        withExtendedLifetime(link) {}
        return (attached, try value())
    }

    @Test(
        "a tp_btf program loads against vmlinux's BTF and sees this thread's syscalls until released",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func rawTracepointWithBTF() throws {
        let counted = try count("on_sys_enter", slot: 0)
        #expect(counted.attached == 10 && counted.released == 10, "counted \(counted) for 10 calls attached, then 10 released")
    }

    @Test(
        "an fentry program attaches at the function vmlinux's BTF names and counts its calls until released",
        .enabled(if: fentryReason == nil, Comment(rawValue: fentryReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func functionEntry() throws {
        let counted = try count("on_getppid", slot: 1)
        #expect(counted.attached == 10 && counted.released == 10, "counted \(counted) for 10 calls attached, then 10 released")
    }

    @Test(
        "a target the kernel's BTF does not have is named in the error",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func missingTargets() throws {
        let loaded = try KernelObject(try ObjectFile(bytes: try BPFCompiler.compile(text: source(tid: 0), name: "btf-attach.bpf.c")))
        for (program, missing) in [
            ("nowhere", "function no_such_kernel_function_anywhere"), ("nowhere_tp", "tracepoint btf_trace_no_such_tracepoint_anywhere"),
        ] {
            #expect {
                _ = try loaded.load(program: program)
            } throws: { error in
                guard case let .preparing(_, problem)? = error as? KernelError else { return false }
                return problem.message == "the kernel's BTF has no \(missing)"
            }
        }
    }
}

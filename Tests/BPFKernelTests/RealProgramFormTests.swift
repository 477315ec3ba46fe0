import BPFBenchmarks
import BPFCore
import BPFKernel
import BPFObject
import BPFPlatform
import BPFRuntime
import BPFTestSupport
import BPFVerifier
import BTF
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason
private let vmlinuxReason: String? = BTF.vmlinux == nil ? "the kernel has no BTF (/sys/kernel/btf/vmlinux)" : nil

/// Forms real objects take that the bench's do not, each loaded by both backends or verified
/// beside the kernel: what the corpus of libbpf-tools programs needed.
@Suite(
    "Real program forms",
    .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
    .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
struct RealProgramFormTests {
    @Test("__kconfig externs read the running kernel's values, a weak one missing reads 0, in both backends")
    func kconfig() throws {
        let file = try ObjectFile(
            bytes: try BPFCompiler.compile(
                text: """
                    #include <linux/bpf.h>
                    #include <bpf/bpf_helpers.h>
                    extern unsigned int LINUX_KERNEL_VERSION __kconfig;
                    extern int CONFIG_SWIFTBPF_NO_SUCH_OPTION __kconfig __weak;
                    SEC("xdp") int version(struct xdp_md *ctx) {
                        return (LINUX_KERNEL_VERSION >> 16) * 10 + CONFIG_SWIFTBPF_NO_SUCH_OPTION;
                    }
                    char LICENSE[] SEC("license") = "GPL";
                    """, name: "kconfig.bpf.c"))
        #expect(file.kconfigExterns.map(\.name) == ["LINUX_KERNEL_VERSION", "CONFIG_SWIFTBPF_NO_SUCH_OPTION"])
        #expect(file.kconfigExterns.map(\.isWeak) == [false, true])
        let packet = [UInt8](repeating: 0, count: 64)
        let kernel = try KernelObject(file).load().testRun(data: packet).returnValue
        let ours = try UserspaceObject(file).load().testRun(data: packet).returnValue
        #expect(kernel == ours && kernel >= 40, "the major version, times ten: kernel \(kernel), ours \(ours)")

        let strong = try ObjectFile(
            bytes: try BPFCompiler.compile(
                text: """
                    #include <linux/bpf.h>
                    #include <bpf/bpf_helpers.h>
                    extern int CONFIG_SWIFTBPF_NO_SUCH_OPTION __kconfig;
                    SEC("xdp") int needs(struct xdp_md *ctx) { return CONFIG_SWIFTBPF_NO_SUCH_OPTION; }
                    char LICENSE[] SEC("license") = "GPL";
                    """, name: "strong.bpf.c"))
        #expect {
            _ = try UserspaceObject(strong)
        } throws: { error in
            guard case let .kconfig(problem)? = error as? RuntimeError else { return false }
            return problem.message.contains("CONFIG_SWIFTBPF_NO_SUCH_OPTION")
        }
    }

    @Test("a stack trace map left for its host to size gets the stated defaults, and the kernel takes it")
    func hostSizedMaps() throws {
        let file = try ObjectFile(
            bytes: try BPFCompiler.compile(
                text: """
                    #include <linux/bpf.h>
                    #include <bpf/bpf_helpers.h>
                    struct { __uint(type, BPF_MAP_TYPE_STACK_TRACE); __uint(key_size, sizeof(__u32)); } stacks SEC(".maps");
                    struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, __u32); __type(value, __u64); } counts SEC(".maps");
                    SEC("tracepoint/syscalls/sys_enter_getppid") int sample(void *ctx) {
                        __u32 id = bpf_get_stackid(ctx, &stacks, 0);
                        __u64 one = 1;
                        bpf_map_update_elem(&counts, &id, &one, BPF_ANY);
                        return 0;
                    }
                    char LICENSE[] SEC("license") = "GPL";
                    """, name: "stacks.bpf.c"))
        let stacks = try #require(file.maps.first { $0.name == "stacks" })
        #expect(stacks.valueSize == MapDefinition.defaultStackDepth * 8 && stacks.maxEntries == MapDefinition.defaultMaxEntries)
        #expect(file.maps.first { $0.name == "counts" }?.maxEntries == MapDefinition.defaultMaxEntries)
        _ = try file.verify(program: "sample")
        _ = try KernelObject(file).load(program: "sample")
    }

    @Test(
        "CO-RE paths through anonymous members resolve; an unresolvable field is poisoned and passes where it is not reached",
        .enabled(if: vmlinuxReason == nil, Comment(rawValue: vmlinuxReason ?? "")))
    func coreForms() throws {
        let file = try ObjectFile(
            bytes: try BPFCompiler.compile(
                text: """
                    #include <linux/bpf.h>
                    #include <bpf/bpf_helpers.h>
                    #include <bpf/bpf_core_read.h>
                    struct sock_common { union { struct { unsigned short skc_dport; unsigned short skc_num; }; }; }
                        __attribute__((preserve_access_index));
                    struct sock { struct sock_common __sk_common; } __attribute__((preserve_access_index));
                    struct task_struct { int pid; int swiftbpf_no_such_field; } __attribute__((preserve_access_index));
                    SEC("raw_tp/sys_enter") int anonymous(void *ctx) {
                        struct sock *sk = (void *)bpf_get_current_task();
                        return BPF_CORE_READ(sk, __sk_common.skc_num);
                    }
                    SEC("raw_tp/sys_enter") int guarded(void *ctx) {
                        struct task_struct *t = (void *)bpf_get_current_task();
                        if (bpf_core_field_exists(t->swiftbpf_no_such_field)) return BPF_CORE_READ(t, swiftbpf_no_such_field);
                        return BPF_CORE_READ(t, pid);
                    }
                    char LICENSE[] SEC("license") = "GPL";
                    """, name: "coreforms.bpf.c"))
        let anonymous = try file.link(try #require(file.program(named: "anonymous")), target: BTF.vmlinux)
        #expect(anonymous.poisoned.isEmpty, "\(anonymous.poisoned)")
        let guarded = try file.link(try #require(file.program(named: "guarded")), target: BTF.vmlinux)
        #expect(guarded.poisoned.count == 1)
        let kernel = try KernelObject(file)
        for name in ["anonymous", "guarded"] {
            _ = try file.verify(program: name, target: BTF.vmlinux)
            _ = try kernel.load(program: name, target: BTF.vmlinux)
        }
    }

    @Test("maps named with dots pin with underscores, as libbpf pins them")
    func dottedPins() throws {
        let file = try ObjectFile(
            bytes: try BPFCompiler.compile(
                text: """
                    #include <linux/bpf.h>
                    #include <bpf/bpf_helpers.h>
                    const volatile int limit = 3;
                    SEC("xdp") int limited(struct xdp_md *ctx) { return limit; }
                    char LICENSE[] SEC("license") = "GPL";
                    """, name: "dotted.bpf.c"))
        let kernel = try KernelObject(file)
        let directory = Pinning.root + "/swiftbpf-test-dots-\(getpid())"
        defer { removeTree(directory) }
        _ = try kernel.pin(under: directory, programs: [try kernel.load()])
        #expect(fileExists(directory + "/_rodata") && fileExists(directory + "/limited"))
    }

    @Test("a function whose result is unused need not set r0 (prepare_func_exit); reading it after the call is refused")
    func unsetReturnValue() throws {
        let unused = try PseudoCAssembler.assemble("r1 = 0\ncall pc+2\nr0 = 0\nexit\nexit")
        let read = try PseudoCAssembler.assemble("r1 = 0\ncall pc+2\nr0 += 1\nexit\nexit")
        _ = try Verifier.verify(unused, Verifier.Configuration(programType: .socketFilter))
        _ = try KernelProgram(type: .socketFilter, instructions: unused)
        let ours = #expect(throws: VerificationError.self) { try Verifier.verify(read, Verifier.Configuration(programType: .socketFilter)) }
        let kernel = #expect(throws: KernelError.self) { try KernelProgram(type: .socketFilter, instructions: read, logLevel: 1) }
        #expect(ours?.message == "R0 !read_ok" && kernel?.log?.contains("R0 !read_ok") == true, "\(String(describing: kernel))")
    }

    @Test("reading stack never written: refused by default, allowed as a root kernel loader allows it (allow_uninit_stack)")
    func uninitializedStack() throws {
        let code = try PseudoCAssembler.assemble("r0 = *(u64 *)(r10 -8)\nr0 = 0\nexit")
        var privileged = Verifier.Configuration(programType: .socketFilter)
        privileged.allowUninitializedStack = true
        _ = try Verifier.verify(code, privileged)
        _ = try KernelProgram(type: .socketFilter, instructions: code)
        let ours = #expect(throws: VerificationError.self) { try Verifier.verify(code, Verifier.Configuration(programType: .socketFilter)) }
        #expect(ours?.message.hasPrefix("invalid read from stack") == true)
    }

    /// Found reading this change: `verify` took the `.kconfig` map's placeholder zeros as the
    /// frozen values, so it pruned a branch the kernel, knowing the real version, walks.
    @Test("verify reads kconfig externs with this kernel's values, as the kernel does: the unsafe branch is reached")
    func kconfigBranches() throws {
        let file = try ObjectFile(
            bytes: try BPFCompiler.compile(
                text: """
                    #include <linux/bpf.h>
                    #include <bpf/bpf_helpers.h>
                    extern unsigned int LINUX_KERNEL_VERSION __kconfig;
                    SEC("xdp") int unsafe_on_real_kernels(struct xdp_md *ctx) {
                        if (LINUX_KERNEL_VERSION > 0) return *(unsigned char *)(long)ctx->data;
                        return XDP_PASS;
                    }
                    char LICENSE[] SEC("license") = "GPL";
                    """, name: "kconfig-branch.bpf.c"))
        #expect(throws: KernelError.self) { _ = try KernelObject(file).load() }
        #expect {
            _ = try file.verify()
        } throws: { error in
            (error as? RuntimeError)?.verification?.message.contains("offset is outside of the packet") == true
        }
    }
}

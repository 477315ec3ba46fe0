import BPFBenchmarks
import BPFKernel
import BPFObject
import BPFTestSupport
import BTF
import Foundation
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason
private let vmlinuxReason: String? = vmlinuxBTF == nil ? "/sys/kernel/btf/vmlinux is absent or unreadable" : nil

/// A raw tracepoint program that reads the current task's tgid through a locally declared,
/// CO-RE-relocatable `task_struct` — the layout comes from the running kernel's BTF.
private let source = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    struct task_struct { int pid; int tgid; } __attribute__((preserve_access_index));
    SEC("raw_tp/sys_enter") int whoami(void *ctx) {
        struct task_struct *t = (void *)bpf_get_current_task();
        int tgid = 0;
        bpf_probe_read_kernel(&tgid, sizeof(tgid), &t->tgid);
        return tgid;
    }
    SEC("raw_tp/sys_enter") int has_field(void *ctx) {
        struct task_struct___probe { int no_such_field; } __attribute__((preserve_access_index)) *t = 0;
        return __builtin_preserve_field_info(t->no_such_field, 2 /* BPF_FIELD_EXISTS */) * 10
             + __builtin_preserve_field_info(((struct task_struct *)0)->tgid, 2);
    }
    char LICENSE[] SEC("license") = "GPL";
    """

@Suite("CO-RE against the running kernel")
struct CORETests {
    @Test("a relocated field read returns this process's tgid in the kernel",
          .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
          .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
          .enabled(if: vmlinuxReason == nil, Comment(rawValue: vmlinuxReason ?? "")))
    func fieldOffset() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "core.bpf.c"))
        let loaded = try KernelObject(object)
        let program = try loaded.load(program: "whoami", target: vmlinuxBTF)
        #expect(try program.testRun(context: [UInt8](repeating: 0, count: 8)) == UInt32(getpid()))
        // The offset the linker wrote is the one bpftool reads from the kernel's BTF.
        let linked = try object.link(try #require(object.program(named: "whoami")), target: vmlinuxBTF)
        let unrelocated = try object.link(try #require(object.program(named: "whoami")))
        let changed = zip(linked.instructions, unrelocated.instructions).filter { $0 != $1 }
        #expect(changed.count == 1)
        if let bpftool = try referenceToolOutput("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux"]) {
            let lines = bpftool.split(separator: "\n")
            let start = try #require(lines.firstIndex { $0.contains("STRUCT 'task_struct' size=") })
            let tgid = try #require(lines[(start + 1)...].prefix { $0.hasPrefix("\t") }.first { $0.hasPrefix("\t'tgid' ") })
            let bits = try #require(tgid.split(separator: " ").first { $0.hasPrefix("bits_offset=") }.flatMap { Int($0.dropFirst(12)) })
            #expect(changed.first.map { Int($0.0.imm) } == bits / 8)
        }
        // Without relocation the kernel reads the wrong field: the compiled-in offset is 4.
        #expect(changed.first?.1.imm == 4)
    }

    @Test("field existence resolves against the target; a missing field is a located error",
          .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
          .enabled(if: vmlinuxReason == nil, Comment(rawValue: vmlinuxReason ?? "")))
    func existence() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "core.bpf.c"))
        let linked = try object.link(try #require(object.program(named: "has_field")), target: vmlinuxBTF)
        // no_such_field: 0; tgid: 1 — folded by clang into immediates the linker rewrote.
        let immediates = linked.instructions.filter { $0.opClass == .alu64 || $0.opClass == .alu }.map(\.imm)
        #expect(immediates.contains(0) && immediates.contains(1))

        let missing = """
            #include <linux/bpf.h>
            #include <bpf/bpf_helpers.h>
            struct task_struct { int no_such_field; } __attribute__((preserve_access_index));
            SEC("raw_tp/sys_enter") int reads_missing(void *ctx) {
                struct task_struct *t = (void *)bpf_get_current_task();
                int v = 0;
                bpf_probe_read_kernel(&v, sizeof(v), &t->no_such_field);
                return v;
            }
            char LICENSE[] SEC("license") = "GPL";
            """
        let bad = try ObjectFile(bytes: try BPFCompiler.compile(text: missing, name: "missing.bpf.c"))
        #expect {
            _ = try bad.link(try #require(bad.program(named: "reads_missing")), target: vmlinuxBTF)
        } throws: { error in
            guard let error = error as? ObjectError else { return false }
            return error.message.contains("no_such_field") && error.message.contains("instruction")
        }
    }
}

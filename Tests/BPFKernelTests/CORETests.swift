import BPFBenchmarks
import BPFKernel
import BPFRuntime
import BPFObject
import BPFTestSupport
import BTF
import Foundation
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason
private let vmlinuxReason: String? = BTF.vmlinux == nil ? "/sys/kernel/btf/vmlinux is absent or unreadable" : nil

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

/// Type-based relocations against vmlinux, one bit each: which local variants of kernel types
/// match (`bpf_core_type_matches`), exist, or have the expected size.
private let typeRelations = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    #include <bpf/bpf_core_read.h>
    struct task_struct___ok { int pid; int tgid; char comm[16]; };
    struct task_struct___extra { int pid; int not_in_the_kernel; };
    struct task_struct___long { long pid; };
    struct task_struct___unsigned { unsigned int pid; };
    struct task_struct___missing { int no_such_field; };
    struct task_struct___comm8 { char comm[8]; };
    struct mm_struct___fwd;
    struct task_struct___mm { struct mm_struct___fwd *mm; };
    struct task_struct___mmunion { union mm_struct___u *mm; };
    struct list_head___ok { struct list_head___ok *next, *prev; };
    struct list_head___int { int next; };
    enum pid_type___ok { PIDTYPE_PID___ok, PIDTYPE_TGID___ok };
    enum pid_type___bad { PIDTYPE_PID___bad, NOT_A_PID_TYPE___bad };
    union mm_struct___u { int x; };
    struct no_such_type_anywhere { int x; };
    SEC("xdp") int type_matches(struct xdp_md *ctx) {
        __u32 r = 0;
        r |= bpf_core_type_matches(struct task_struct___mm) << 0;
        r |= bpf_core_type_matches(struct task_struct___long) << 1;
        r |= bpf_core_type_matches(struct task_struct___unsigned) << 2;
        r |= bpf_core_type_matches(struct task_struct___missing) << 3;
        r |= bpf_core_type_matches(struct task_struct___comm8) << 4;
        r |= bpf_core_type_matches(struct task_struct___mmunion) << 5;
        r |= bpf_core_type_matches(struct list_head___ok) << 6;
        r |= bpf_core_type_matches(struct list_head___int) << 7;
        r |= bpf_core_type_matches(enum pid_type___ok) << 8;
        r |= bpf_core_type_matches(enum pid_type___bad) << 9;
        r |= bpf_core_type_matches(struct no_such_type_anywhere) << 10;
        r |= bpf_core_type_exists(struct list_head___int) << 11;
        r |= bpf_core_type_exists(struct no_such_type_anywhere) << 12;
        r |= (bpf_core_type_size(struct list_head___ok) == 16) << 13;
        r |= bpf_core_type_matches(struct task_struct___ok) << 14;
        r |= bpf_core_type_matches(struct task_struct___extra) << 15;
        return r;
    }
    char LICENSE[] SEC("license") = "GPL";
    """

/// What the type relations give by libbpf's rules for any recent kernel: bits 0, 6, 8 (the
/// matches), 11 (exists) and 13 (the size). Bit 14 (a task_struct with pid, tgid and comm) is
/// left out: whether `char` matches depends on how the kernel was built (-funsigned-char).
private let expectedRelations: UInt32 = 1 << 0 | 1 << 6 | 1 << 8 | 1 << 11 | 1 << 13

@Suite("CO-RE against the running kernel")
struct CORETests {
    @Test(
        "a relocated field read returns this process's tgid in the kernel",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: vmlinuxReason == nil, Comment(rawValue: vmlinuxReason ?? "")))
    func fieldOffset() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "core.bpf.c"))
        let loaded = try KernelObject(object)
        let program = try loaded.load(program: "whoami", target: BTF.vmlinux)
        #expect(try program.testRun(context: [UInt8](repeating: 0, count: 8)) == UInt32(getpid()))
        // The offset the linker wrote is the one bpftool reads from the kernel's BTF.
        let linked = try object.link(try #require(object.program(named: "whoami")), target: BTF.vmlinux)
        let unrelocated = try object.link(try #require(object.program(named: "whoami")))
        let changed = zip(linked.instructions, unrelocated.instructions).filter { $0 != $1 }
        #expect(changed.count == 1)
        if let bpftool = referenceToolOutput("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux"]) {
            let lines = bpftool.split(separator: "\n")
            let start = try #require(lines.firstIndex { $0.contains("STRUCT 'task_struct' size=") })
            let tgid = try #require(lines[(start + 1)...].prefix { $0.hasPrefix("\t") }.first { $0.hasPrefix("\t'tgid' ") })
            let bits = try #require(tgid.split(separator: " ").first { $0.hasPrefix("bits_offset=") }.flatMap { Int($0.dropFirst(12)) })
            #expect(changed.first.map { Int($0.0.imm) } == bits / 8)
        }
        // Without relocation the kernel reads the wrong field: the compiled-in offset is 4.
        #expect(changed.first?.1.imm == 4)
    }

    /// The same object through libbpf (bpftool loads it, relocating against vmlinux, and runs
    /// it) and through our linker into the kernel: the same bits.
    @Test(
        "type matches, exists and size relocate as libbpf relocates them",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: vmlinuxReason == nil, Comment(rawValue: vmlinuxReason ?? "")))
    func typeRelocations() throws {
        let bytes = try BPFCompiler.compile(text: typeRelations, name: "type_matches.bpf.c")
        let program = try KernelObject(try ObjectFile(bytes: bytes)).load(program: "type_matches", target: BTF.vmlinux)
        let ours = try program.testRun(data: [UInt8](repeating: 0, count: 64)).returnValue
        #expect(ours & ~(1 << 14) == expectedRelations, "bits \(String(ours, radix: 2))")

        let directory = NSTemporaryDirectory() + "swiftbpf-core-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/type_matches.o"))
        try Data(count: 64).write(to: URL(fileURLWithPath: directory + "/packet"))
        let pin = Pinning.root + "/swiftbpf-test-core-\(getpid())"
        defer { unlink(pin) }
        guard (referenceToolOutput("bpftool", ["prog", "load", directory + "/type_matches.o", pin, "type", "xdp"])) != nil,
            let run = referenceToolOutput("bpftool", ["prog", "run", "pinned", pin, "data_in", directory + "/packet"])
        else {
            withKnownIssue("bpftool (libbpf's loader) is not installed: compared with the expected bits only") { Issue.record("no bpftool") }
            return
        }
        let libbpf = try #require(run.split(separator: " ").dropFirst(2).first.flatMap { UInt32($0.trimmingCharacters(in: .punctuationCharacters)) }, "\(run)")
        #expect(ours == libbpf, "ours \(String(ours, radix: 2)), libbpf's \(String(libbpf, radix: 2))")
    }

    @Test(
        "field existence resolves against the target; a missing field is a located error",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: vmlinuxReason == nil, Comment(rawValue: vmlinuxReason ?? "")))
    func existence() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "core.bpf.c"))
        let linked = try object.link(try #require(object.program(named: "has_field")), target: BTF.vmlinux)
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
        // As libbpf does: the instruction is poisoned, and refused only because this path reaches it.
        let bad = try ObjectFile(bytes: try BPFCompiler.compile(text: missing, name: "missing.bpf.c"))
        let poisoned = try bad.link(try #require(bad.program(named: "reads_missing")), target: BTF.vmlinux)
        #expect(poisoned.instructions.contains { $0.opcode == 0x85 && $0.imm == 0xbad2310 })
        let kernel = #expect(throws: KernelError.self) { _ = try KernelObject(bad).load(program: "reads_missing", target: BTF.vmlinux) }
        #expect(kernel?.log?.contains("invalid func unknown#195896080") == true, "\(String(describing: kernel))")
        #expect {
            _ = try bad.verify(program: "reads_missing", target: BTF.vmlinux)
        } throws: { error in
            (error as? RuntimeError)?.verification?.message.contains("invalid func unknown#195896080") == true
        }
    }
}

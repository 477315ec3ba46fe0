import BPFCore
import BPFFuzz
import BPFKernel
import BTF
import Testing

/// The byte offset of task_struct's member `name` in the running kernel's BTF.
private func taskMember(_ name: String) -> Int? {
    guard let btf = BTF.vmlinux,
        let id = btf.typeID(named: "task_struct", where: { if case .structure = $0 { true } else { false } }),
        case let .structure(_, members)? = btf.type(UInt32(id))?.kind,
        let m = members.first(where: { btf.name($0.nameOffset) == name })
    else { return nil }
    return Int(m.bitOffset / 8)
}

private let childTID = taskMember("clear_child_tid")  // int *
private let parent = taskMember("real_parent")  // struct task_struct *
private let btfReason = childTID == nil || parent == nil ? "needs the kernel's BTF with task_struct" : nil

/// What the fuzzer found once reads through kernel objects were verified (each accepted by us
/// and refused by the kernel before the fix), written against this kernel's task_struct layout.
private func findings() -> [(rule: String, type: ProgramType, text: String, kernel: String)] {
    guard let childTID, let parent else { return [] }
    let task = "call bpf_get_current_task_btf#158\nr7 = r0\n"
    return [
        (
            "WALK_PTR_UNTRUSTED: an int * member is a pointer (6.17+)", .tracepoint,
            task + "r7 = *(u64 *)(r7 +\(childTID))\nw7 >>= 1\nr0 = 0\nexit", "R7 32-bit pointer arithmetic prohibited"
        ),
        (
            "a kernel pointer is spilled whole", .socketFilter,
            task + "r8 = *(u64 *)(r7 +\(childTID))\n*(u32 *)(r10 -40) = r8\nr0 = 0\nexit", "invalid size of register spill"
        ),
        (
            "save_aux_ptr_type: a kernel object on one path, the packet on another", .schedCLS,
            "r6 = r1\nr7 = *(u32 *)(r6 +76)\nr8 = *(u32 *)(r6 +80)\nr4 = r7\nr4 += 34\nif r8 < r4 goto pc+2\ncall bpf_get_current_task_btf#158\nr7 = r0\nr4 = r7\nr4 += 14\nif r4 > r8 goto pc+1\nr0 = *(u16 *)(r7 +0)\nr0 = 0\nexit",
            "same insn cannot be used with different pointers"
        ),
        (
            "reg_not_null: a pointer read from an object may be NULL", .kprobe,
            task + "r7 = *(u64 *)(r7 +\(parent))\nif r7 != 0x0 goto pc+1\nr0 = *(u32 *)(r9 +0)\nr0 = 0\nexit", "R9 !read_ok"
        ),
    ]
}

@Suite("Verifier: kernel object reads the fuzzer found", .enabled(if: btfReason == nil, Comment(rawValue: btfReason ?? "")))
struct KernelObjectFindingsTests {
    @Test("refused as the kernel refuses them; the kernel agrees where bpf(2) is permitted")
    func refused() throws {
        let cases = findings()
        #expect(cases.count == 4)
        for finding in cases {
            let program = FuzzProgram(type: finding.type, code: try PseudoCAssembler.assemble(finding.text))
            let ours = program.ourVerdict()
            #expect(ours.isRefused && ours.message.contains(finding.kernel), "\(finding.rule): \(ours.message)")
            if KernelSupport.unavailableReason == nil {
                let kernel = try KernelOracle().verdict(program)
                #expect(kernel.isRefused && kernel.message.contains(finding.kernel), "\(finding.rule): the kernel: \(kernel.message)")
            }
        }
    }
}

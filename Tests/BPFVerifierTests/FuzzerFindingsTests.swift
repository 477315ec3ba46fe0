import BPFCore
import BPFFuzz
import BPFKernel
import BPFVerifier
import Testing

/// Programs the differential fuzzer found that SwiftBPF accepted and the kernel refuses (each
/// minimized, in the kernel's pseudo-C, the fuzzer's maps: 0 array, 1 hash, 2 ring buffer, 3
/// read-only array, 4 program array), with the kernel's words and the kernel function whose
/// rule it is.
struct FuzzerFinding: CustomTestStringConvertible, Sendable {
    var rule: String
    var type: ProgramType
    var code: [Instruction]
    var kernel: String
    var testDescription: String { rule }
}

private let lookup = "*(u64 *)(r10 -8) = 0\nr2 = r10\nr2 += -8\n"

/// The kernel's pseudo-C, assembled (the texts below are known to assemble).
private func asm(_ text: String) -> [Instruction] {
    do { return try PseudoCAssembler.assemble(text) } catch { fatalError("\(error)") }
}

private let findings: [FuzzerFinding] = [
    FuzzerFinding(
        rule: "record_func_map: no helper writes a read-only map", type: .xdp,
        code: asm(lookup + "r1 = map[fd:3]\ncall bpf_map_delete_elem#3\nr0 = 0\nexit"), kernel: "write into map forbidden"),
    FuzzerFinding(
        rule: "clear_all_pkt_pointers after xdp_adjust_tail", type: .xdp,
        code: asm(
            """
            r6 = r1
            r7 = *(u32 *)(r6 +0)
            r8 = *(u32 *)(r6 +4)
            r2 = r7
            r2 += 8
            if r2 > r8 goto pc+6
            r1 = r6
            r2 = -8
            call bpf_xdp_adjust_tail#65
            r0 = *(u8 *)(r7 +0)
            r0 = 0
            exit
            r0 = 0
            exit
            """), kernel: "R7 invalid mem access 'scalar'"),
    FuzzerFinding(
        rule: "save_aux_ptr_type: one instruction, context on one path and stack on another", type: .schedCLS,
        code: asm(
            """
            r6 = r1
            r0 = *(u32 *)(r6 +0)
            if r0 == 0x0 goto pc+2
            r6 = r10
            r6 += -16
            *(u32 *)(r6 +12) = r0
            r0 = 0
            exit
            """), kernel: "same insn cannot be used with different pointers"),
    FuzzerFinding(
        rule: "check_atomic_rmw: a fetch into the base register leaves no pointer to write through", type: .xdp,
        code: asm(lookup + "r1 = map[fd:0]\ncall bpf_map_lookup_elem#1\nif r0 == 0x0 goto pc+1")
            + [Instruction(opcode: 0xdb, dst: 0, src: 0, offset: 8, imm: 0xa1)]  // r0 = atomic64_fetch_xor((u64 *)(r0 +8), r0)
            + asm("r0 = 0\nexit"),
        kernel: "misaligned access off"),
    FuzzerFinding(
        rule: "check_stack_read: an atomic through a variable stack offset", type: .xdp,
        code: asm(
            """
            *(u64 *)(r10 -16) = 0
            *(u64 *)(r10 -8) = 0
            r4 = *(u32 *)(r1 +12)
            r4 &= 8
            r5 = r10
            r5 += -16
            r5 += r4
            r1 = 1
            lock *(u64 *)(r5 +0) += r1
            r0 = 0
            exit
            """), kernel: "variable offset stack pointer cannot be passed into helper function"),
    FuzzerFinding(
        rule: "check_ld_abs: the context in r6 unmodified", type: .socketFilter,
        code: asm("r6 = r1\nr6 += 8\nr0 = *(u8 *)skb[0]\nexit"), kernel: "dereference of modified ctx ptr R6 off=8 disallowed"),
    FuzzerFinding(
        rule: "check_ld_abs: the loaded value is unknown", type: .socketFilter,
        code: asm(
            """
            r6 = r1
            r0 = *(u16 *)skb[4]
            if r0 s>= 0xfffffe00 goto pc+1
            r0 = *(u64 *)(r9 +0)
            r0 = 0
            exit
            """), kernel: "R9 !read_ok"),
    FuzzerFinding(
        rule: "is_safe_to_compute_dst_reg_range: an ALU32 shift count's 64-bit value", type: .xdp,
        code: asm(
            """
            call bpf_get_prandom_u32#7
            r7 = r0
            r8 = 0x8000000000000000 ll
            w7 s>>= w8
            if r7 <= r8 goto pc+1
            r0 = *(u64 *)(r9 +0)
            r0 = 0
            exit
            """), kernel: "R9 !read_ok"),
    FuzzerFinding(
        rule: "regs_refine_cond_op: a register compared with itself narrows nothing", type: .xdp,
        code: asm(
            """
            call bpf_get_prandom_u32#7
            r9 = r0
            r9 &= 1
            if r9 s<= r9 goto pc+2
            if r9 == 0x0 goto pc+1
            r0 = *(u64 *)(r8 +0)
            r0 = 0
            exit
            """), kernel: "R8 !read_ok"),
    FuzzerFinding(
        rule: "regs_refine_cond_op: JSET of two unknowns learns nothing", type: .tracepoint,
        code: asm(
            """
            r9 = *(u8 *)(r1 +16)
            call bpf_get_prandom_u32#7
            r7 = r0
            if r9 & r7 goto pc+1
            goto pc+2
            if r9 != 0x0 goto pc+1
            r0 = *(u64 *)(r8 +0)
            r0 = 0
            exit
            """), kernel: "R8 !read_ok"),
    FuzzerFinding(
        rule: "regs_refine_cond_op: a JSET false branch forgets ranges", type: .schedCLS,
        code: asm(
            """
            call bpf_get_prandom_u32#7
            r6 = r0
            r6 &= 65535
            r6 -= 255
            if w6 & 0x1f goto pc+2
            r9 = r10
            r9 += r6
            r0 = 0
            exit
            """), kernel: "math between fp pointer and register with unbounded min value is not allowed"),
    FuzzerFinding(
        rule: "mark_pkt_end: past the end, no byte of the packet", type: .cgroupSKB,
        code: asm(
            """
            r7 = *(u32 *)(r1 +76)
            r8 = *(u32 *)(r1 +80)
            r3 = r7
            r3 += 20
            if r3 >= r8 goto pc+3
            r0 = r7
            if r0 <= r8 goto pc+1
            r6 = *(s8 *)(r0 +8)
            r0 = 0
            exit
            """), kernel: "R0 offset is outside of the packet"),
    FuzzerFinding(
        rule: "check_stack_write_fixed_off: a partly overwritten spilled zero is unknown", type: .tracepoint,
        code: asm(
            """
            *(u64 *)(r10 -8) = 0
            *(u8 *)(r10 -4) = -1
            r8 = *(s8 *)(r10 -8)
            if w8 == 0x0 goto pc+1
            r0 = *(u64 *)(r9 +0)
            r0 = 0
            exit
            """), kernel: "R9 !read_ok"),
    FuzzerFinding(
        rule: "pe_prog_is_valid_access: registers only whole", type: .perfEvent,
        code: asm("r0 = *(u32 *)(r1 +8)\nexit"), kernel: "invalid bpf_context access off=8 size=4"),
    FuzzerFinding(
        rule: "check_cond_jmp_op: equal to a kernel object pointer says nothing of NULL", type: .kprobe,
        code: asm(
            lookup
                + "r1 = map[fd:1]\ncall bpf_map_lookup_elem#1\nr9 = r0\ncall bpf_get_current_task_btf#158\nif r9 != r0 goto pc+1\nr8 = *(s8 *)(r9 +4)\nr0 = 0\nexit"
        ),
        kernel: "R9 invalid mem access 'map_value_or_null'"),
    FuzzerFinding(
        rule: "check_helper_call: fn->allowed (get_func_ip only where a function is traced)", type: .tracepoint,
        code: asm("call bpf_get_func_ip#173\nexit"), kernel: "bpf_get_func_ip#173"),
    FuzzerFinding(
        rule: "check_helper_call: fn->might_sleep in a non-sleepable program", type: .cgroupSKB,
        code: asm("r1 = r10\nr1 += -32\nr2 = 4\nr3 = 63\ncall bpf_copy_from_user#148\nr0 = 0\nexit"),
        kernel: "helper call might sleep in a non-sleepable prog"),
    FuzzerFinding(
        rule: "may_access_direct_pkt_data: no packet pointers to helpers in sock_ops", type: .sockOps,
        code: asm(
            """
            r7 = *(u64 *)(r1 +192)
            r8 = *(u64 *)(r1 +200)
            r1 = r7
            r1 += 16
            if r1 > r8 goto pc+4
            r1 = map[fd:1]
            r2 = r7
            call bpf_map_lookup_elem#1
            r0 = 0
            r0 = 0
            exit
            """), kernel: "helper access to the packet is not allowed"),
]

@Suite("Verifier: what the differential fuzzer found, refused in the kernel's words")
struct FuzzerFindingsTests {
    @Test("refused as the kernel refuses it", arguments: findings)
    func refused(_ finding: FuzzerFinding) {
        do {
            _ = try Verifier.verify(finding.code, Verifier.Configuration(programType: finding.type, maps: FuzzMaps.shapes))
            Issue.record("accepted; the kernel refuses it: \(finding.kernel)")
        } catch {
            #expect(error.message.contains(finding.kernel), "refused with '\(error.message)'")
        }
    }

    /// The programs are what the kernel refuses, in the words above (checked against the
    /// running kernel where `bpf(2)` is permitted).
    @Test(
        "the kernel refuses each too", .enabled(if: KernelSupport.unavailableReason == nil, Comment(rawValue: KernelSupport.unavailableReason ?? "")),
        arguments: findings)
    func kernelRefuses(_ finding: FuzzerFinding) throws {
        let verdict = try KernelOracle().verdict(FuzzProgram(type: finding.type, code: finding.code))
        #expect(verdict.isRefused && verdict.message.contains(finding.kernel), "the kernel: \(verdict.message)")
    }

    /// perf_event programs read their sample's period and address at any width.
    @Test("pe_prog_is_valid_access: sample_period and addr narrow")
    func perfEventFields() throws {
        let code = try PseudoCAssembler.assemble("r0 = *(u32 *)(r1 +168)\nr2 = *(u16 *)(r1 +176)\nr3 = *(u64 *)(r1 +8)\nexit")
        _ = try Verifier.verify(code, Verifier.Configuration(programType: .perfEvent))
        if KernelSupport.unavailableReason == nil {
            #expect(try KernelOracle().verdict(FuzzProgram(type: .perfEvent, code: code)) == .accepted)
        }
    }
}

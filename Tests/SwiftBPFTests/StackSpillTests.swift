import BPFBenchmarks
import SwiftBPF
import Testing

private let compilerReason = BPFCompiler.unavailableReason
private let kernelReason = KernelSupport.unavailableReason

/// Narrow spills (a number stored in fewer than 8 bytes at a slot's start): the kernel keeps the
/// register, so a fill of those bytes gives its bounds back, and the slot's other bytes count as
/// written. Each verdict beside the kernel's.
@Suite(
    "Narrow stack spills: our verdicts and the kernel's", .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
    .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")))
struct StackSpillTests {
    @Test("fills keep the bounds, wide reads see written bytes, offsets past the end are refused")
    func verdicts() throws {
        let file = try ObjectFile(
            bytes: try BPFCompiler.compile(
                text: """
                    #include <linux/bpf.h>
                    #include <bpf/bpf_helpers.h>
                    #define NAKED SEC("xdp") __attribute__((naked))
                    NAKED int wide_after_narrow(void *ctx) { asm volatile("r1 = 0; *(u32 *)(r10 - 8) = r1; r3 = *(u64 *)(r10 - 8); r0 = 0; exit;"); }
                    NAKED int fill_keeps_bounds(void *ctx) {
                        asm volatile("r1 = 5; *(u32 *)(r10 - 8) = r1; r2 = *(u32 *)(r10 - 8); r1 = 0; *(u64 *)(r10 - 16) = r1;"
                                     "r1 = r10; r1 += -16; r1 += r2; r0 = *(u8 *)(r1 + 0); r0 = 0; exit;");
                    }
                    NAKED int fill_truncates(void *ctx) {
                        asm volatile("r1 = 0x100000005 ll; *(u32 *)(r10 - 8) = r1; r2 = *(u32 *)(r10 - 8); r1 = 0; *(u64 *)(r10 - 16) = r1;"
                                     "r1 = r10; r1 += -16; r1 += r2; r0 = *(u8 *)(r1 + 0); r0 = 0; exit;");
                    }
                    NAKED int fill_past_end(void *ctx) {
                        asm volatile("r1 = 20; *(u32 *)(r10 - 8) = r1; r2 = *(u32 *)(r10 - 8); r1 = 0; *(u64 *)(r10 - 16) = r1;"
                                     "r1 = r10; r1 += -16; r1 += r2; r0 = *(u8 *)(r1 + 0); r0 = 0; exit;");
                    }
                    char LICENSE[] SEC("license") = "GPL";
                    """, name: "spills.bpf.c"))
        let results = VerdictComparison.compare(file, target: nil)
        #expect(
            results.categories == ["wide_after_narrow": "A", "fill_keeps_bounds": "A", "fill_truncates": "A", "fill_past_end": "B"], "\(results)")
    }
}

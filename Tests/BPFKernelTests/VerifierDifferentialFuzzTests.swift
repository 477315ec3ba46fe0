import BPFCore
import BPFFuzz
import BPFKernel
import Testing

private let kernelReason = KernelSupport.unavailableReason

/// The differential fuzzer of `swiftbpf fuzz-verifier --kernel`, a few thousand programs per
/// seed: no program our verifier accepts is refused by the kernel's, and the generator reaches
/// every gadget and many of the kernel's rules (counted by the kinds of refusal it provokes).
@Suite("Verifier against the kernel's: differential fuzzing")
struct VerifierDifferentialFuzzTests {
    @Test("nothing accepted only by us", .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")), arguments: [11, 12] as [UInt64])
    func differential(seed: UInt64) throws {
        let oracle = try KernelOracle()
        let summary = DifferentialFuzzer.run(count: 3000, seed: seed, oracle: oracle.verdict)
        print("fuzz-verifier seed \(seed): \(summary.line); \(summary.kernelRefusals.count) kinds of kernel refusal")
        for d in summary.acceptedOnlyByUs {
            Issue.record("accepted only by us (the kernel: \(d.kernel)):\n\(Disassembler.listing(d.program.code))")
        }
        #expect(summary.bothAccept > 1000, "the generator must reach deep: \(summary.line)")
        #expect(summary.kernelRefusals.count >= 40, "the programs must reach many of the kernel's rules: \(summary.kernelRefusals.count)")
        for gadget in Gadget.allCases { #expect(summary.gadgets[gadget, default: 0] > 0, "gadget \(gadget) never generated") }
    }

    /// As a root loader verifies (allow_uninit_stack), what the kernel refuses and we accept
    /// stays none, and what we refuse and it accepts all but vanishes (about 0.02% at 100,000).
    @Test(
        "privileged: nothing accepted only by us, and almost nothing refused only by us",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")))
    func privileged() throws {
        let oracle = try KernelOracle()
        let summary = DifferentialFuzzer.run(count: 3000, seed: 13, oracle: oracle.verdict, privileged: true)
        for d in summary.acceptedOnlyByUs {
            Issue.record("accepted only by us (the kernel: \(d.kernel)):\n\(Disassembler.listing(d.program.code))")
        }
        #expect(summary.onlyKernel * 100 <= summary.programs, "refused only by us: \(summary.refusedOnlyByUs)")
    }
}

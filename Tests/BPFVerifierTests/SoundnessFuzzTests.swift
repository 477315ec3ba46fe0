import BPFCore
import BPFTestSupport
import BPFVerifier
import BPFVM
import Testing

/// The context the fuzzed programs get: 64 bytes, all readable and writable.
private let contextSize = 64
private let context = ContextLayout(size: contextSize, readable: [0..<contextSize], writable: [0..<contextSize])

@Suite("Verifier soundness: what it accepts never faults")
struct SoundnessFuzzTests {
    /// Every program the verifier accepts runs in checked mode (bounds-checked memory, an
    /// instruction budget) on 8 random contexts without a fault and to its end: a fault or a
    /// spent budget would be a verifier bug. Checked mode is exactly the fast semantics plus
    /// checks, so this also covers the fast interpreter and the JIT that skip them.
    @Test("random programs: accepted means safe", arguments: 0..<6)
    func acceptedProgramsRunSafely(seed: UInt64) throws {
        var g = SplitMix64(state: 0x5eed_0000 &+ seed &* 0x9e37_79b9)
        var accepted = 0, refused = 0
        var configuration = Verifier.Configuration(programType: .xdp, context: context)
        configuration.complexityLimit = 50_000
        configuration.kernelRules = false  // load-time rules that are not about safety (unreachable code, alignment)
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: contextSize, alignment: 8)
        defer { memory.deallocate() }
        for _ in 0..<800 {
            let code = randomVerifierProgram(&g, contextLoads: (0..<8).map { (Int16($0 * 8), [0x00, 0x08, 0x10, 0x18][$0 % 4]) })
            do { _ = try Verifier.verify(code, configuration) } catch {
                refused += 1
                continue
            }
            accepted += 1
            let vm = try Interpreter(code)
            for _ in 0..<8 {
                for i in 0..<contextSize { memory[i] = UInt8(truncatingIfNeeded: g.next()) }
                do {
                    _ = try vm.run(
                        UInt64(UInt(bitPattern: memory.baseAddress)), mode: .checked(instructionLimit: 1_000_000),
                        regions: [MemoryRegion(memory, writable: true)])
                } catch {
                    Issue.record("verifier accepted a program that faults: \(error)\n\(Disassembler.listing(code))")
                    return
                }
            }
        }
        // The generator must give the verifier both kinds, or the test proves little.
        #expect(accepted > 100 && refused > 100, "accepted \(accepted), refused \(refused)")
        print("verifier soundness fuzz, seed \(seed): \(accepted) accepted and run 8 times each without a fault, \(refused) refused")
    }
}

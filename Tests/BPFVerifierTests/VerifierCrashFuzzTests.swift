import BPFCore
import BPFFuzz
import BPFTestSupport
import BPFVerifier
import Testing

/// No input traps the verifier: structured programs from the differential fuzzer's generator,
/// the same programs with random bytes changed, and random instruction soup, verified with and
/// without the kernel's rules. A trap (overflow, index out of range) ends the test process,
/// which fails the run.
@Suite("Verifier: no input crashes it")
struct VerifierCrashFuzzTests {
    @Test("generated, mutated and random programs", arguments: 0..<4)
    func noTrap(seed: UInt64) {
        var generator = ProgramGenerator(seed: 0xc0ff_ee00 &+ seed)
        var g = SplitMix64(state: 0xdead_beef &+ seed)
        var accepted = 0, refused = 0
        for round in 0..<600 {
            var program = generator.next()
            switch round % 3 {
            case 1:
                // A few random bytes of the encoding changed: offsets, immediates, registers.
                var bytes = Instruction.encode(program.code)
                for _ in 0..<(1 + g.below(4)) { bytes[g.below(bytes.count)] = UInt8(truncatingIfNeeded: g.next()) }
                program.code = stride(from: 0, to: bytes.count, by: 8).map { Instruction(bytes: bytes, at: $0) }
            case 2:
                // Instruction soup from the opcodes that exist, with edge-value fields.
                let edges: [Int32] = [0, 1, -1, 8, -8, 512, -512, Int32.max, Int32.min, 1 << 29, -(1 << 29)]
                program.code =
                    (0..<(4 + g.below(20))).map { _ in
                        Instruction(
                            opcode: UInt8(truncatingIfNeeded: g.next()), dst: UInt8(g.below(11)), src: UInt8(g.below(11)),
                            offset: Int16(truncatingIfNeeded: edges[g.below(edges.count)]), imm: edges[g.below(edges.count)])
                    } + [Instruction(opcode: 0x95)]
            default: break
            }
            for kernelRules in [true, false] {
                var configuration = Verifier.Configuration(programType: program.type, maps: FuzzMaps.shapes)
                configuration.kernelRules = kernelRules
                configuration.complexityLimit = 100_000
                do {
                    _ = try Verifier.verify(program.code, configuration)
                    accepted += 1
                } catch {
                    refused += 1
                }
            }
        }
        #expect(accepted > 100 && refused > 100, "accepted \(accepted), refused \(refused): the inputs must reach both verdicts")
    }
}

import BPFBenchmarks
import BPFCore
import BPFObject
import BPFTestSupport
import BPFKernel
import BPFMaps
import BPFRuntime
import BPFVM
import BPFVerifier
import BTF
import Testing

private let compilerReason = BPFCompiler.unavailableReason
private let bench = SharedFixtures.path("bench")

/// Soundness evidence from real programs: clang's bench objects with one instruction changed
/// in the ELF bytes (a register, an offset, an immediate, an opcode), loaded the way a user
/// loads them — so the loader, the verifier and the runtime all meet the mutant. Whatever the
/// verifier accepts must run in checked mode, on packets of several sizes, without a fault.
@Suite("Verifier soundness on mutated real objects")
struct MutatedObjectFuzzTests {
    @Test(
        "mutants of the bench objects: accepted means safe",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: bench != nil, "../shared/bench is absent"),
        arguments: ["alu", "checksum", "flow", "maps"])
    func mutants(name: String) throws {
        let original = try BPFCompiler.compile(bench! + "/\(name).bpf.c")
        let parsed = try ObjectFile(bytes: original)
        let program = try #require(parsed.programs.first)
        let section = try #require(parsed.elf.section(named: program.section))
        let start = section.offset + program.sectionOffset
        let count = program.instructions.count
        let packet = BenchmarkPrograms.packet
        // Every length a bounds check in these programs draws a line at, and either side of it.
        let packets = [0, 13, 14, 33, 34, 54, 60].map { Array((packet + Array(repeating: 0xa5, count: 200)).prefix($0)) }
        // Loads, stores and jumps are where safety is decided: most mutants change one.
        let decisive = program.instructions.indices.filter {
            [.ldx, .st, .stx, .jmp, .jmp32].contains(program.instructions[$0].opClass)
        }
        var g = SplitMix64(state: 0xfa11_0000 &+ UInt64(count))
        var accepted = 0, refused = 0
        for _ in 0..<(name == "alu" ? 60 : 200) {  // alu is the slow one to verify
            var bytes = original
            let at = start + 8 * (g.below(4) == 0 ? g.below(count) : decisive[g.below(decisive.count)])
            switch g.below(6) {
            case 0: bytes[at + 1] = UInt8(truncatingIfNeeded: g.next())  // dst and src registers
            case 1: bytes[at + 2 + g.below(2)] = UInt8(truncatingIfNeeded: g.next())  // offset
            case 5:  // a small change to the offset: a load or store a few bytes further
                let offset = Int16(bitPattern: UInt16(bytes[at + 2]) | UInt16(bytes[at + 3]) << 8) &+ Int16(g.below(17)) - 8
                bytes[at + 2] = UInt8(truncatingIfNeeded: offset)
                bytes[at + 3] = UInt8(truncatingIfNeeded: offset >> 8)
            case 2: bytes[at + 4 + g.below(4)] = UInt8(truncatingIfNeeded: g.next())  // immediate
            case 3: bytes[at] ^= UInt8(1) << UInt8(g.below(8))  // one opcode bit
            default:  // a small change to the immediate: a loop bound, a size, a bounds check
                let delta = Int32(g.below(33)) - 16
                let imm =
                    Int32(bitPattern: UInt32(bytes[at + 4]) | UInt32(bytes[at + 5]) << 8 | UInt32(bytes[at + 6]) << 16 | UInt32(bytes[at + 7]) << 24) &+ delta
                for k in 0..<4 { bytes[at + 4 + k] = UInt8(truncatingIfNeeded: imm >> (8 * k)) }
            }
            let loaded: UserspaceProgram
            do {
                loaded = try UserspaceObject(try ObjectFile(bytes: bytes)).load()
            } catch {
                refused += 1  // the loader or the verifier said why; a crash would end the test
                continue
            }
            accepted += 1
            for input in packets {
                do {
                    _ = try loaded.testRun(data: input, mode: .checked(instructionLimit: 10_000_000))
                } catch {
                    Issue.record("\(name): the verifier accepted a mutant that faults on a \(input.count)-byte packet: \(error)")
                }
            }
        }
        print("mutated \(name): \(accepted) accepted and run on \(packets.count) packets without a fault, \(refused) refused")
        #expect(accepted > 0 && refused > 0)
    }
}

import BPFCore
import BPFKernel
import BPFPacket
import BPFRuntime
import BPFTestSupport
import BPFVM
import Testing

/// Random classic programs: whatever `bpf_check_classic`'s rules accept translates to eBPF our
/// verifier accepts, for tc and as a socket filter, and runs with one result on every engine and
/// in the kernel (as a tc classifier and as a socket filter); whatever they refuse is refused
/// with a reason, never a crash.
@Suite("Classic BPF: random programs checked, translated and run")
struct ClassicFuzzTests {
    static func randomProgram(_ g: inout SplitMix64) -> [ClassicProgram.Instruction] {
        let codes = Array(ClassicProgram.knownCodesForTests).sorted()
        let count = 2 + Int(g.next() % 14)
        return (0..<count).map { i in
            if i == count - 1 { return .init(code: g.next() % 2 == 0 ? 0x06 : 0x16, k: UInt32(truncatingIfNeeded: g.next() % 70)) }
            let code = codes[Int(g.next() % UInt64(codes.count))]
            let ks: [UInt32] = [0, 1, 2, 3, 12, 14, 23, 31, 60, 0xffff, 0x8000_0000, 0xffff_ffff, UInt32(truncatingIfNeeded: g.next())]
            var k = ks[Int(g.next() % UInt64(ks.count))]
            if code & 0x07 >= 0x02 && code & 0x07 <= 0x03 || code & 0xe0 == 0x60 { k %= 18 }  // scratch words, a few out of range
            if code == 0x05 { k = UInt32(g.next() % 4) }
            return .init(code: code, jt: UInt8(g.next() % 4), jf: UInt8(g.next() % 4), k: k)
        }
    }

    @Test("accepted programs run alike everywhere", arguments: 0..<3)
    func fuzz(seed: UInt64) throws {
        var g = SplitMix64(state: 0x6362_7066 &+ seed)
        let packet: [UInt8] = (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        var accepted = 0
        let kernel = KernelSupport.unavailableReason == nil
        for _ in 0..<400 {
            let code = Self.randomProgram(&g)
            guard let program = try? ClassicProgram(code) else { continue }
            accepted += 1
            let tc = try UserspaceProgram.load(instructions: program.ebpf, type: .schedCLS, name: "fuzz")
            let results = try [ExecutionMode.fast, .checked()].map { try tc.testRun(data: packet, mode: $0).returnValue }
            #expect(Set(results).count == 1, "\(code)")
            if kernel {
                #expect(try KernelProgram(type: .schedCLS, instructions: program.ebpf).testRun(data: packet).returnValue == results[0], "\(code)")
                // As a socket filter (the kernel's test run starts its packet at the network header).
                let filter = try UserspaceProgram.load(instructions: program.socketFilterEBPF, type: .socketFilter, name: "fuzz")
                let ours = try filter.testRun(data: packet).returnValue
                #expect(try KernelProgram(type: .socketFilter, instructions: program.socketFilterEBPF).testRun(data: packet).returnValue == ours, "\(code)")
            }
        }
        #expect(accepted >= 20, "the generator must reach programs the checks accept: \(accepted)")
    }
}

import BPFBenchmarks
import BPFTestSupport
import SwiftBPF
import Testing

/// The README's embedding example, kept compiling and correct.
@Test("the README's embedding example works as written")
func readmeExample() throws {
    let program = try Assembler.assemble(
        """
        ldxw %r0, [%r1+0]     # first word of the input
        add %r0, %r2          # plus the input's length
        exit
        """)
    let vm = try Interpreter(program)
    var input: [UInt8] = [1, 0, 0, 0]
    let r0 = try input.withUnsafeMutableBytes { try vm.run(memory: $0, mode: .checked()) }
    #expect(r0 == 5)

    var helpers = HelperTable.standard
    helpers.register(HelperID(rawValue: 200)) { a, _, _, _, _, _ in a * 2 }
    let doubled = try Interpreter(try Assembler.assemble("mov %r1, 21\ncall 200\nexit"), helpers: helpers)
    #expect(try doubled.run() == 42)
}

/// The README's object example, kept compiling and correct.
@Test(
    "the README's object example works as written",
    .enabled(if: KernelSupport.unavailableReason == nil, Comment(rawValue: KernelSupport.unavailableReason ?? "")),
    .enabled(if: BPFCompiler.unavailableReason == nil, Comment(rawValue: BPFCompiler.unavailableReason ?? "")),
    .enabled(if: SharedFixtures.path("bench") != nil, "../shared/bench is absent"))
func readmeObjectExample() throws {
    let objectBytes = try BPFCompiler.compile(SharedFixtures.path("bench")! + "/flow.bpf.c")
    let frame = BenchmarkPrograms.packet
    let object = try ObjectFile(bytes: objectBytes)
    let ours = try UserspaceObject(object).load()
    let kernel = try KernelObject(object).load(target: BTF.vmlinux)
    let packet: [UInt8] = frame
    #expect(try ours.testRun(data: packet).returnValue == (try kernel.testRun(data: packet).returnValue))
}

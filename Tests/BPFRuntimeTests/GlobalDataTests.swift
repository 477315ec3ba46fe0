import BPFBenchmarks
import BPFKernel
import BPFTestSupport
import BPFCore
import BPFMaps
import BPFObject
import BPFRuntime
import BPFVM
import BPFVerifier
import BTF
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason

private let source = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    const volatile int limit = 40;
    int counter = 7;
    static __attribute__((noinline)) int add(int a, int b) { return a + b + counter; }
    SEC("xdp") int uses_globals(struct xdp_md *ctx) {
        counter += 1;
        int v = add(limit, (int)(ctx->data_end - ctx->data));
        return v > 100 ? XDP_PASS : XDP_DROP;
    }
    char LICENSE[] SEC("license") = "GPL";
    """

@Suite("Global data and subprograms", .serialized)
struct GlobalDataTests {
    @Test(
        "global data becomes single-value array maps; calls into .text are linked",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func linking() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "globals.bpf.c"))
        let data = try #require(object.maps.first { $0.name == ".data" })
        let rodata = try #require(object.maps.first { $0.name == ".rodata" })
        #expect(data.initialValue == [7, 0, 0, 0] && !data.readOnly)
        #expect(rodata.initialValue == [40, 0, 0, 0] && rodata.readOnly)
        let program = try #require(object.program(named: "uses_globals"))
        let linked = try object.link(program)
        #expect(linked.instructions.count > program.instructions.count)  // .text appended
        let call = try #require(linked.instructions.indices.first { linked.instructions[$0].opcode == 0x85 })
        #expect(call + 1 + Int(linked.instructions[call].imm) == program.instructions.count)  // add() starts .text
        #expect(Set(linked.mapReferences.map { object.maps[$0.map].name }) == [".data", ".rodata"])
        #expect(linked.mapReferences.allSatisfy { $0.valueOffset == 0 })
    }

    @Test(
        "both backends agree run after run while .data changes the verdict",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func againstKernel() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "globals.bpf.c"))
        let kernel = try KernelObject(object), ours = try UserspaceObject(object)
        let kernelProgram = try kernel.load(), ourProgram = try ours.load()
        let packet = Array(BenchmarkPrograms.packet.prefix(20))
        var verdicts: Set<UInt32> = []
        for run in 0..<40 {
            let expected = try kernelProgram.testRun(data: packet).returnValue
            #expect(try ourProgram.testRun(data: packet).returnValue == expected, "run \(run)")
            verdicts.insert(expected)
        }
        #expect(verdicts == [1, 2])  // 40 + 20 + counter crosses 100 on the way
        let kernelData = try #require(kernel.map(named: ".data"))
        #expect(try kernelData.lookup([0, 0, 0, 0]) == (try ours.map(named: ".data")?.lookup([0, 0, 0, 0])))
    }

    @Test(
        "a write to .rodata is refused by the kernel and our verifier, and faults in checked mode",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func readOnlyData() throws {
        let writer = """
            #include <linux/bpf.h>
            #include <bpf/bpf_helpers.h>
            const volatile int limit = 40;
            SEC("xdp") int writes_rodata(struct xdp_md *ctx) { *(volatile int *)&limit = 1; return XDP_PASS; }
            char LICENSE[] SEC("license") = "GPL";
            """
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: writer, name: "rodata.bpf.c"))
        #expect(throws: KernelError.self) { _ = try KernelObject(object).load() }
        let userspace = try UserspaceObject(object)
        #expect { _ = try userspace.load() } throws: { error in
            (error as? RuntimeError)?.verification?.message.hasPrefix("write into map forbidden") == true
        }
        let ours = try userspace.load(verify: false)
        #expect {
            _ = try ours.testRun(data: BenchmarkPrograms.packet, mode: .checked())
        } throws: { error in
            guard let error = error as? ExecutionError, case let .memoryFault(_, _, write) = error.kind else { return false }
            return write
        }
    }
}

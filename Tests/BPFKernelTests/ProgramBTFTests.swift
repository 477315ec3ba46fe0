import BPFBenchmarks
import BPFKernel
import BPFObject
import BPFTestSupport
import BTF
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason
private let bench = SharedFixtures.path("bench")

/// Three functions in .text, of which the program calls two (one through the other), plus
/// global data in .rodata, .data and .bss.
private let subprograms = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    const volatile int bias = 3;
    int calls = 1;
    int last;
    static __attribute__((noinline)) int twice(int x) { calls++; return 2 * x; }
    static __attribute__((noinline)) int unused(int x) { return x * x * x; }
    static __attribute__((noinline)) int scaled(int x) { last = x; return twice(x) + bias; }
    SEC("xdp") int uses_two(struct xdp_md *ctx) {
        return scaled((int)(ctx->data_end - ctx->data)) > 40 ? XDP_PASS : XDP_DROP;
    }
    SEC("xdp") int uses_three(struct xdp_md *ctx) { return unused(scaled(1)) == 125 ? XDP_PASS : XDP_DROP; }
    char LICENSE[] SEC("license") = "GPL";
    """

@Suite("Programs and maps loaded with their BTF", .serialized)
struct ProgramBTFTests {
    /// Every program of `object` loads with the object's BTF, and the kernel reports holding
    /// every function and line record the linker produced; BTF-defined maps carry their types.
    private func checkLoaded(_ object: ObjectFile, _ label: String) throws {
        let kernel = try KernelObject(object)
        #expect(kernel.btfProblem == nil, "\(label): \(kernel.btfProblem ?? "")")
        #expect(kernel.btf != nil, "\(label): no BTF loaded")
        for program in object.programs {
            let linked = try object.link(program, target: object.usesCORE ? BTF.vmlinux : nil)
            let loaded = try kernel.load(program: program.name, target: object.usesCORE ? BTF.vmlinux : nil)
            let info = try #require(Inventory.program(fd: loaded.fd))
            #expect(info.btfID != 0, "\(label) \(program.name)")
            #expect(!linked.functionInfo.isEmpty && info.functionInfoCount == UInt32(linked.functionInfo.count), "\(label) \(program.name)")
            #expect(!linked.lineInfo.isEmpty && info.lineInfoCount == UInt32(linked.lineInfo.count), "\(label) \(program.name)")
        }
        for map in kernel.maps {
            let info = try #require(Inventory.map(fd: map.fd))
            #expect(info.keyTypeID == map.definition.keyTypeID && info.valueTypeID == map.definition.valueTypeID, "\(label) \(map.definition.name)")
            if map.definition.valueTypeID != 0 { #expect(info.btfID != 0, "\(label) \(map.definition.name)") }
        }
    }

    @Test(
        "the bench objects and the exec monitor load with BTF: every function and line record reaches the kernel",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: bench != nil, "../shared/bench is absent"))
    func benchObjects() throws {
        for name in ["alu", "checksum", "flow", "maps"] {
            try checkLoaded(try ObjectFile(bytes: try BPFCompiler.compile(bench! + "/\(name).bpf.c")), name)
        }
        try checkLoaded(try ObjectFile(bytes: try ExecMonitor.compile()), "exec monitor")
    }

    @Test(
        "only the .text functions a program calls are linked in, each with its function record; .rodata is frozen",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func subprogramsAndGlobals() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: subprograms, name: "subprograms.bpf.c"))
        let btf = try #require(object.btf)
        let names = { (linked: LinkedProgram) in linked.functionInfo.map { btf.name(ofType: Int($0.typeID)) } }
        let two = try object.link(try #require(object.program(named: "uses_two")))
        let three = try object.link(try #require(object.program(named: "uses_three")))
        #expect(names(two) == ["uses_two", "scaled", "twice"])
        #expect(Set(names(three)) == ["uses_three", "unused", "scaled", "twice"])
        // Each function record sits on the first instruction of a function the program reaches.
        #expect(two.functionInfo.first?.instructionOffset == 0)
        #expect(two.lineInfo.map(\.instructionOffset) == two.lineInfo.map(\.instructionOffset).sorted())
        try checkLoaded(object, "subprograms")

        let kernel = try KernelObject(object)
        let packet = [UInt8](repeating: 0, count: 20)
        #expect(try kernel.load(program: "uses_two").testRun(data: packet).returnValue == 2)  // 2 * 20 + 3 > 40
        #expect(try kernel.load(program: "uses_three").testRun(data: packet).returnValue == 2)  // (2 + 3)³ = 125
        let data = try #require(kernel.map(named: ".data"))
        #expect(try data.lookup([0, 0, 0, 0]) == [3, 0, 0, 0])  // 1, and twice() ran once per program
        let rodata = try #require(kernel.map(named: ".rodata"))
        #expect(throws: KernelError.self) { try rodata.update([0, 0, 0, 0], [9, 0, 0, 0]) }  // frozen
        #expect(try rodata.lookup([0, 0, 0, 0]) == [3, 0, 0, 0])
    }
}

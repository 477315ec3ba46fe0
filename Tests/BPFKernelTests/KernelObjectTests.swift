import BPFPlatform
import BPFBenchmarks
import BPFCore
import BPFKernel
import BPFMaps
import BPFObject
import BPFTestSupport
import BPFVM
import Foundation
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason
private let bench = SharedFixtures.path("bench")

/// Descriptors of this process that refer to bpf maps and programs.
private func bpfDescriptors() -> Int {
    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return fds.filter { ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) ?? "").hasPrefix("anon_inode:bpf") }.count
}

@Suite("Objects loaded into the kernel", .serialized)
struct KernelObjectTests {
    private func load(_ name: String) throws -> KernelObject {
        try KernelObject(try ObjectFile(bytes: try BPFCompiler.compile(bench! + "/\(name).bpf.c")))
    }

    @Test(
        "the four bench objects load with their maps and return the expected verdicts",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: bench != nil, "../shared/bench is absent"))
    func benchObjects() throws {
        let packet = BenchmarkPrograms.packet
        let padded = packet + Array(repeating: 0, count: 1500 - packet.count)

        // alu: the same verdict as our interpreter on the same packet length.
        var context: [UInt32] = [0, UInt32(packet.count), 0, 0, 0, 0]
        let ours = try context.withUnsafeMutableBytes { try Interpreter(try Assembler.assemble(BenchmarkPrograms.alu)).run(memory: $0) }
        #expect(UInt64(try load("alu").load().testRun(data: packet).returnValue) == ours)

        // checksum: the ones'-complement parity, computed here from the packet's 16-bit words.
        for data in [packet, padded] {
            var sum: UInt32 = 0
            for i in stride(from: 0, to: min(data.count, 1500) - 1, by: 2) { sum &+= UInt32(data[i]) | UInt32(data[i + 1]) << 8 }
            sum = (sum & 0xffff) + (sum >> 16)
            sum = (sum & 0xffff) + (sum >> 16)
            #expect(try load("checksum").load().testRun(data: data).returnValue == (sum & 1 == 1 ? 2 : 1), "\(data.count) bytes")
        }

        // flow: a SYN without ACK is dropped; a UDP packet passes.
        let flow = try load("flow")
        #expect(flow.maps.map(\.definition.name) == ["flows"])
        #expect(try flow.load().testRun(data: packet).returnValue == 1)
        var udp = packet
        udp[23] = 17
        #expect(try flow.load().testRun(data: udp).returnValue == 2)

        // maps: on empty maps every hash lookup misses, so the total is 0 and the packet dropped.
        let maps = try load("maps")
        #expect(maps.maps.count == 2)
        #expect(try maps.load().testRun(data: packet).returnValue == 1)
    }

    @Test(
        "programs load with libbpf's expected attach type and flags: cgroup socket-address programs need it, xdp.frags asks for it",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func expectedAttachTypes() throws {
        let source = """
            #include <linux/bpf.h>
            #include <bpf/bpf_helpers.h>
            SEC("cgroup/connect4") int allow_connect(struct bpf_sock_addr *ctx) { return ctx->user_port ? 1 : 1; }
            SEC("cgroup/getsockopt") int pass_getsockopt(struct bpf_sockopt *ctx) { return 1; }
            SEC("xdp.frags") int frags(struct xdp_md *ctx) { return XDP_PASS; }
            char LICENSE[] SEC("license") = "GPL";
            """
        let file = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "attach_types.bpf.c"))
        let object = try KernelObject(file)
        for name in ["allow_connect", "pass_getsockopt", "frags"] {
            #expect(throws: Never.self, "\(name)") { _ = try object.load(program: name) }
        }
        // What the kernel refuses without them: a socket-address program with no expected type.
        let connect = try #require(file.program(named: "allow_connect"))
        #expect(throws: KernelError.self) {
            _ = try KernelProgram(type: .cgroupSockAddr, instructions: try file.link(connect).instructions, license: "GPL")
        }
    }

    @Test(
        "references the loader cannot relocate yet are refused with the instruction named",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func unresolvedExtern() throws {
        let source = """
            #include <linux/bpf.h>
            #include <bpf/bpf_helpers.h>
            extern int defined_elsewhere;
            SEC("xdp") int uses_extern(struct xdp_md *ctx) { return defined_elsewhere > 3 ? XDP_PASS : XDP_DROP; }
            char LICENSE[] SEC("license") = "GPL";
            """
        let object = try KernelObject(try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "extern.bpf.c")))
        #expect {
            _ = try object.load()
        } throws: { error in
            guard case let .preparing(program, problem)? = error as? KernelError else { return false }
            return program == "uses_extern" && problem.description.contains("instruction 0") && problem.description.contains("defined_elsewhere")
        }
    }

    @Test(
        "per-CPU maps of every kind read and write one value per possible CPU",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")))
    func perCPUBuffers() throws {
        for type: MapType in [.percpuHash, .percpuArray, .lruPercpuHash] {
            let map = try KernelMap(MapDefinition(name: "percpu", type: type, keySize: 4, valueSize: 12, maxEntries: 4, flags: [], section: "", offset: 0))
            #expect(map.isPerCPU && map.perCPUValueStride == 16)
            let values = (0..<map.valueBufferSize).map { UInt8(truncatingIfNeeded: $0 % 16 < 12 ? $0 : 0) }
            try map.update([1, 0, 0, 0], values)
            #expect(try map.lookup([1, 0, 0, 0]) == values, "type \(type)")
            #expect(map.valueBufferSize == 16 * PossibleCPUs.count)
        }
    }

    @Test(
        "a map's name reaches the kernel in the characters it takes, at most 15",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")))
    func mapNames() throws {
        let map = try KernelMap(
            MapDefinition(
                name: "é-counts.v2_of_every_kind", type: .array, keySize: 4, valueSize: 8, maxEntries: 1,
                flags: [], section: "", offset: 0))
        #expect(Inventory.map(fd: map.fd)?.name == "counts.v2_of_ev")
    }

    @Test(
        "loading and releasing objects leaks no file descriptors",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: bench != nil, "../shared/bench is absent"))
    func noLeaks() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(bench! + "/maps.bpf.c"))
        let before = bpfDescriptors()
        for _ in 0..<20 {
            let loaded = try KernelObject(object)
            _ = try loaded.load().testRun(data: BenchmarkPrograms.packet)
        }
        // A leak would leave 60 (2 maps and 1 program, 20 times); tests running in parallel may
        // hold a few of their own for a moment.
        #expect(bpfDescriptors() - before < 10, "bpf descriptors before \(before), after \(bpfDescriptors())")
    }
}

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
private let bench = SharedFixtures.path("bench")

@Suite("Objects in the userspace runtime", .serialized)
struct UserspaceObjectTests {
    @Test(
        "a map the runtime cannot create refuses only the programs that use it, naming it",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func unavailableMap() throws {
        let object = try UserspaceObject(
            try ObjectFile(
                bytes: try BPFCompiler.compile(
                    text: """
                        #include <linux/bpf.h>
                        #include <bpf/bpf_helpers.h>
                        struct {
                            __uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH); __uint(max_entries, 8); __type(key, int); __type(value, int);
                        } events SEC(".maps");
                        SEC("xdp") int passes(struct xdp_md *ctx) { return XDP_PASS; }
                        SEC("tracepoint/syscalls/sys_enter_getppid") int reports(void *ctx) {
                            int key = 0;
                            return bpf_map_lookup_elem(&events, &key) != 0;
                        }
                        char LICENSE[] SEC("license") = "GPL";
                        """, name: "unavailable.bpf.c")))
        #expect(object.unavailableMaps.keys.sorted() == ["events"] && object.maps.isEmpty)
        #expect(try object.load(program: "passes").testRun(data: [UInt8](repeating: 0, count: 64)).returnValue == 2)
        #expect {
            _ = try object.load(program: "reports")
        } throws: { error in
            guard case let .mapUnavailable(program, map, _)? = error as? RuntimeError else { return false }
            return program == "reports" && map == "events"
        }
    }

    private static let packets: [(String, [UInt8])] = {
        let syn = BenchmarkPrograms.packet
        var udp = syn
        udp[23] = 17
        var ack = syn
        ack[47] = 0x12  // SYN+ACK
        return [
            ("syn", syn), ("udp", udp), ("syn-ack", ack), ("1500", syn + Array(repeating: 0, count: 1500 - syn.count)),
            ("short", Array(syn.prefix(20))),
        ]
    }()

    /// The four bench programs, from clang's objects, give the kernel's verdict on every packet,
    /// run after run (map state evolves the same way on both sides), in both engines.
    @Test(
        "bench objects return what the kernel returns",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: bench != nil, "../shared/bench is absent"),
        arguments: ["alu", "checksum", "flow", "maps"])
    func againstKernel(name: String) throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(bench! + "/\(name).bpf.c"))
        for mode in [ExecutionMode.checked(), .fast, .jit] {
            let kernel = try KernelObject(object)
            let ours = try UserspaceObject(object)
            let kernelProgram = try kernel.load(), ourProgram = try ours.load()
            for (label, packet) in Self.packets {
                for run in 0..<3 {
                    let expected = try kernelProgram.testRun(data: packet)
                    let actual = try ourProgram.testRun(data: packet, mode: mode)
                    #expect(actual.returnValue == expected.returnValue, "\(name), \(label) packet, run \(run), \(mode)")
                    #expect(actual.data == Array(expected.data.prefix(packet.count)))
                }
            }
            // After the same runs, every map holds the same entries on both sides.
            for (kernelMap, ourMap) in zip(kernel.maps, ours.maps) {
                let theirs = try kernelMap.entries().map { $0.key + $0.value }
                let mine = try ourMap.keys().map { try $0 + (ourMap.lookup($0) ?? []) }
                #expect(Set(theirs) == Set(mine), "\(name): map \(ourMap.name)")
                #expect(!theirs.isEmpty || name == "alu" || name == "checksum")
            }
        }
    }

    @Test(
        "map state after runs is what the program wrote",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: bench != nil, "../shared/bench is absent"))
    func mapState() throws {
        let loaded = try UserspaceObject(try ObjectFile(bytes: try BPFCompiler.compile(bench! + "/flow.bpf.c")))
        let program = try loaded.load()
        for _ in 0..<5 { _ = try program.testRun(data: BenchmarkPrograms.packet) }
        let flows = try #require(loaded.map(named: "flows"))
        let keys = flows.keys()
        #expect(keys.count == 1)
        let stats = try #require(try flows.lookup(keys[0]))
        let packets = littleEndianValue(stats.prefix(8)), bytes = littleEndianValue(stats.suffix(8))
        #expect(packets == 5 && bytes == 5 * UInt64(BenchmarkPrograms.packet.count))
    }
}

/// Checked mode tests helper arguments against the helpers' prototypes, so an unverified
/// program cannot make a helper touch memory it could not touch itself.
@Suite("Checked helper arguments")
struct CheckedHelperArgumentTests {
    private static let source = """
        #include <linux/bpf.h>
        #include <bpf/bpf_helpers.h>
        struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4); __type(key, __u64); __type(value, __u64); } m SEC(".maps");
        SEC("xdp") int misuse(struct xdp_md *ctx) {
            void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
            if (data + 8 > end) return 0;
            __u8 how = *(__u8 *)data;
            __u64 key = 1, bogus = 0x1000;
            if (how == 1) return bpf_map_lookup_elem((void *)bogus, &key) != 0;            /* not a map */
            if (how == 2) return bpf_map_lookup_elem(&m, (void *)bogus) != 0;              /* key nowhere */
            if (how == 3) return bpf_map_lookup_elem(&m, data + 3835) != 0;                /* key runs off the 4 KiB frame */
            if (how == 4) return bpf_csum_diff(0, 0, (void *)bogus, 16, 0);                /* buffer nowhere */
            if (how == 5) return bpf_xdp_adjust_head((void *)data, 0);                     /* not the context */
            return bpf_map_lookup_elem(&m, &key) != 0;                                    /* fine */
        }
        char LICENSE[] SEC("license") = "GPL";
        """

    /// The verifier refuses this program at load (the first misuse it meets); loaded without
    /// verification, checked mode catches every misuse at run time.
    @Test(
        "bad pointers to helpers: refused by the verifier, and fault in checked mode naming the register",
        .enabled(if: BPFCompiler.unavailableReason == nil, Comment(rawValue: BPFCompiler.unavailableReason ?? "")),
        arguments: [(1, 1), (2, 2), (3, 2), (4, 3), (5, 1)])
    func refused(how: UInt8, register: Int) throws {
        let object = try UserspaceObject(try ObjectFile(bytes: try BPFCompiler.compile(text: Self.source, name: "misuse.bpf.c")))
        #expect { _ = try object.load() } throws: { error in
            (error as? RuntimeError)?.verification?.message.contains("expected=") == true
        }
        let program = try object.load(verify: false)
        var packet = [UInt8](repeating: 0, count: 8)
        packet[0] = how
        #expect {
            _ = try program.testRun(data: packet, mode: .checked())
        } throws: { error in
            guard let error = error as? ExecutionError, case let .invalidHelperArgument(_, r, _) = error.kind else { return false }
            return r == register
        }
        #expect(try program.testRun(data: [UInt8](repeating: 0, count: 8), mode: .checked()).returnValue == 0)
    }
}

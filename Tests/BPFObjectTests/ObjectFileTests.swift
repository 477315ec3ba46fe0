import BPFBenchmarks
import BPFCore
import BPFObject
import BPFTestSupport
import Testing

private let bench = SharedFixtures.path("bench")
private let compilerReason = BPFCompiler.unavailableReason

@Suite("Object files")
struct ObjectFileTests {
    @Test(
        "the bench programs load with their types, license and relocations",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: bench != nil, "../shared/bench is absent"))
    func benchObjects() throws {
        let alu = try ObjectFile(bytes: try BPFCompiler.compile(bench! + "/alu.bpf.c"))
        #expect(alu.license == "Dual MIT/GPL")
        let program = try #require(alu.program(named: "bench_alu"))
        #expect(program.section == "xdp" && program.kind?.type == .xdp)
        // Our hand transcription of clang's output is exact, instruction for instruction.
        #expect(program.instructions == (try Assembler.assemble(BenchmarkPrograms.alu)))
        #expect(program.relocations.isEmpty)

        for name in ["checksum", "flow", "maps"] {
            let object = try ObjectFile(bytes: try BPFCompiler.compile(bench! + "/\(name).bpf.c"))
            #expect(object.programs.count == 1, "\(name)")
            #expect(object.programs.allSatisfy { $0.kind?.type == .xdp })
            try Validator.validate(object.programs[0].instructions)
        }
        // flow and maps address their maps: each map load is a relocated lddw.
        let maps = try ObjectFile(bytes: try BPFCompiler.compile(bench! + "/maps.bpf.c"))
        let relocations = maps.programs[0].relocations
        #expect(!relocations.isEmpty)
        for relocation in relocations {
            let insn = maps.programs[0].instructions[Int(relocation.offset / 8)]
            #expect(insn.isWide || insn.opcode == 0x85, "relocation at \(relocation.offset) is on \(Disassembler.text(insn))")
            #expect(!maps.elf.symbols[relocation.symbol].name.isEmpty)
        }
    }

    @Test(
        "BTF-defined maps are read with their shapes, and map relocations find them",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: bench != nil, "../shared/bench is absent"))
    func mapDefinitions() throws {
        let maps = try ObjectFile(bytes: try BPFCompiler.compile(bench! + "/maps.bpf.c"))
        #expect(maps.maps.map(\.name) == ["counters", "table"])
        #expect(maps.maps.map(\.type) == [.array, .hash])
        #expect(maps.maps.map(\.keySize) == [4, 4] && maps.maps.map(\.valueSize) == [8, 8])
        #expect(maps.maps.map(\.maxEntries) == [256, 1024])
        let referenced = maps.programs[0].relocations.compactMap { maps.map(for: $0)?.name }
        #expect(Set(referenced) == ["counters", "table"] && referenced.count == maps.programs[0].relocations.count)

        let flow = try ObjectFile(bytes: try BPFCompiler.compile(bench! + "/flow.bpf.c"))
        let flows = try #require(flow.maps.first)
        #expect(flow.maps.count == 1 && flows.name == "flows" && flows.type == .hash)
        #expect(flows.keySize == 16 && flows.valueSize == 16 && flows.maxEntries == 65536 && flows.section == ".maps")
    }

    @Test(
        "section names map to program types the way libbpf's do",
        arguments: [
            ("xdp", ProgramType.xdp, nil as String?),
            ("xdp.frags", .xdp, nil),
            ("socket", .socketFilter, nil),
            ("tc", .schedCLS, nil),
            ("classifier", .schedCLS, nil),
            ("tp/syscalls/sys_enter_execve", .tracepoint, "syscalls/sys_enter_execve"),
            ("tracepoint/sched/sched_switch", .tracepoint, "sched/sched_switch"),
            ("raw_tp/sys_enter", .rawTracepoint, "sys_enter"),
            ("tp_btf/sched_switch", .tracing, "sched_switch"),
            ("kprobe/do_sys_open", .kprobe, "do_sys_open"),
            ("kretprobe/do_sys_open", .kprobe, "do_sys_open"),
            ("uprobe/bin:func", .kprobe, "bin:func"),
            ("fentry/tcp_connect", .tracing, "tcp_connect"),
            ("fexit/tcp_connect", .tracing, "tcp_connect"),
            ("lsm/file_open", .lsm, "file_open"),
            ("cgroup_skb/ingress", .cgroupSKB, nil),
            ("perf_event", .perfEvent, nil),
        ])
    func sectionNames(name: String, type: ProgramType, target: String?) {
        #expect(SectionNames.match(name)?.type == type && SectionNames.match(name)?.attachTarget == target)
    }

    @Test(
        "expected attach types and flags are libbpf's",
        arguments: [
            ("xdp", UInt32(37), UInt32(0)),  // BPF_XDP
            ("xdp.frags", 37, 1 << 5),  // BPF_F_XDP_HAS_FRAGS
            ("xdp/devmap", 33, 0),  // BPF_XDP_DEVMAP
            ("cgroup/connect4", 10, 0),  // BPF_CGROUP_INET4_CONNECT
            ("cgroup_skb/egress", 1, 0),  // BPF_CGROUP_INET_EGRESS
            ("cgroup/getsockopt", 21, 0),  // BPF_CGROUP_GETSOCKOPT
            ("tcx/ingress", 46, 0),  // BPF_TCX_INGRESS
            ("uprobe.s/bin:func", 0, 1 << 4),  // BPF_F_SLEEPABLE
            ("tp/syscalls/sys_enter_execve", 0, 0),
            ("socket", 0, 0),
        ])
    func attachTypes(name: String, attachType: UInt32, flags: UInt32) throws {
        let match = try #require(SectionNames.match(name))
        #expect((match.expectedAttachType?.rawValue ?? 0) == attachType && match.flags.rawValue == flags)
    }

    @Test("unknown section names are reported, not guessed")
    func unknownSections() {
        #expect(SectionNames.match("xdpfoo") == nil)
        #expect(SectionNames.match("my_section") == nil)
        #expect(SectionNames.match("") == nil)
    }
}

/// Two programs calling .text functions (one through another), with global data.
private let subprograms = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    const volatile int bias = 3;
    int calls = 1;
    static __attribute__((noinline)) int twice(int x) { calls++; return 2 * x; }
    static __attribute__((noinline)) int scaled(int x) { return twice(x) + bias; }
    SEC("xdp") int one(struct xdp_md *ctx) { return scaled(ctx->data_end - ctx->data) > 40 ? XDP_PASS : XDP_DROP; }
    SEC("xdp") int two(struct xdp_md *ctx) { return twice(1) == 2 ? XDP_PASS : XDP_DROP; }
    char LICENSE[] SEC("license") = "GPL";
    """

@Suite("Malformed object files")
struct MalformedObjectTests {
    private static func object() throws -> [UInt8] { try BPFCompiler.compile(bench! + "/flow.bpf.c") }

    /// Links every program and fixes up the BTF: each must succeed or throw an ObjectError
    /// that names where.
    private static func prepare(_ object: ObjectFile) {
        for program in object.programs {
            do { _ = try object.link(program) } catch {
                #expect(error.section != nil || error.offset != nil, "\(error)")
            }
        }
        do { _ = try object.loadableBTF() } catch {
            #expect(error.section != nil, "\(error)")
        }
    }

    @Test(
        "programs are found as libbpf finds them: static functions, NOTYPE symbols of older LLVM, e_machine 0",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func programForms() throws {
        let valid = try BPFCompiler.compile(
            text: """
                #include <linux/bpf.h>
                #include <bpf/bpf_helpers.h>
                SEC("xdp") int global_one(struct xdp_md *ctx) { return XDP_PASS; }
                SEC("socket") __attribute__((used)) static int static_one(struct __sk_buff *skb) { return 0; }
                char LICENSE[] SEC("license") = "GPL";
                """, name: "forms.bpf.c")
        let object = try ObjectFile(bytes: valid)
        #expect(Set(object.programs.map(\.name)) == ["global_one", "static_one"])
        // Older LLVM: the program symbol is STT_NOTYPE with no size; it reaches to the section's end.
        let elf = try ELFFile(bytes: valid)
        let symtab = try #require(elf.sections.first { $0.type == 2 })
        let index = try #require(elf.symbols.firstIndex { $0.name == "global_one" })
        var untyped = valid
        untyped[symtab.offset + index * 24 + 4] = 0x10  // st_info: STB_GLOBAL, STT_NOTYPE
        for k in 0..<8 { untyped[symtab.offset + index * 24 + 16 + k] = 0 }  // st_size
        untyped[18] = 0  // e_machine: EM_NONE
        let old = try ObjectFile(bytes: untyped)
        let program = try #require(old.program(named: "global_one"))
        #expect(program.instructions == (try #require(object.program(named: "global_one"))).instructions)
    }

    @Test(
        "a .text function symbol with an absurd address or size is refused when a call lands on it, never a crash",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func absurdFunctionSymbol() throws {
        let valid = try BPFCompiler.compile(text: subprograms, name: "subprograms.bpf.c")
        let elf = try ELFFile(bytes: valid)
        let symtab = try #require(elf.sections.first { $0.type == 2 })
        let twice = try #require(elf.symbols.firstIndex { $0.name == "twice" })
        for field in [8, 16] {  // st_value, st_size
            var bytes = valid
            for k in 0..<8 { bytes[symtab.offset + twice * 24 + field + k] = 0xff }
            let object = try ObjectFile(bytes: bytes)
            #expect(throws: ObjectError.self) { try object.link(try #require(object.program(named: "two"))) }
        }
    }

    /// Every symbol kind — program functions, global variables, a .text function — with an
    /// address or size past Int.max (which the fuzz found trapping a conversion), or just
    /// negative as a signed number: an ObjectError or a working object, never a crash.
    @Test(
        "symbols with absurd addresses or sizes never crash the loader or the linker",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        arguments: ["one", "two", "bias", "calls", "twice"])
    func absurdSymbols(name: String) throws {
        let valid = try BPFCompiler.compile(text: subprograms, name: "subprograms.bpf.c")
        let elf = try ELFFile(bytes: valid)
        let symtab = try #require(elf.sections.first { $0.type == 2 })
        let index = try #require(elf.symbols.firstIndex { $0.name == name })
        for field in [8, 16] {  // st_value, st_size
            for pattern in [[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], [0, 0, 0, 0, 0, 0, 0, 0x80], [0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]]
                as [[UInt8]]
            {
                var bytes = valid
                for k in 0..<8 { bytes[symtab.offset + index * 24 + field + k] = pattern[k] }
                do {
                    let object = try ObjectFile(bytes: bytes)
                    for program in object.programs {
                        do { _ = try object.link(program) } catch {}  // an ObjectError is the right answer too
                    }
                } catch {}
            }
        }
    }

    @Test("truncated, foreign and corrupt files get errors that say where")
    func handPicked() throws {
        #expect { try ObjectFile(bytes: []) } throws: { ($0 as? ObjectError)?.message.contains("shorter than an ELF header") == true }
        #expect { try ObjectFile(bytes: Array(repeating: 0, count: 64)) } throws: { ($0 as? ObjectError)?.message.contains("bad magic") == true }
    }

    @Test(
        "a compiled object made foreign or corrupt gets errors that say where",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: bench != nil, "../shared/bench is absent"))
    func corrupted() throws {
        var foreign = try Self.object()
        foreign[18] = 62  // EM_X86_64
        #expect { try ObjectFile(bytes: foreign) } throws: { ($0 as? ObjectError)?.message.contains("EM_BPF") == true }
        let valid = try Self.object()
        #expect { try ObjectFile(bytes: Array(valid.prefix(valid.count - 100))) } throws: { $0 is ObjectError }
        var badTable = valid
        badTable[40] = 0xff; badTable[41] = 0xff; badTable[42] = 0xff  // e_shoff past the end
        #expect { try ObjectFile(bytes: badTable) } throws: { ($0 as? ObjectError)?.message.contains("runs past the end") == true }
    }

    /// Random corruption of a real object must end in a parsed object or an ObjectError —
    /// never a crash. Every error names a section or an offset.
    @Test(
        "mutated objects never crash the loader",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: bench != nil, "../shared/bench is absent"))
    func fuzz() throws {
        // flow, an object whose programs call .text functions, for the linker, and one with
        // the forms real objects add: a kconfig extern, a static program, read-only data.
        let forms = """
            #include <linux/bpf.h>
            #include <bpf/bpf_helpers.h>
            extern unsigned int LINUX_KERNEL_VERSION __kconfig;
            const volatile int limit = 3;
            SEC("xdp") int versioned(struct xdp_md *ctx) { return LINUX_KERNEL_VERSION > limit ? XDP_PASS : XDP_DROP; }
            SEC("socket") __attribute__((used)) static int local(struct __sk_buff *skb) { return limit; }
            char LICENSE[] SEC("license") = "GPL";
            """
        for valid in [
            try Self.object(), try BPFCompiler.compile(text: subprograms, name: "subprograms.bpf.c"),
            try BPFCompiler.compile(text: forms, name: "forms.bpf.c"),
        ] {
            try Self.fuzz(valid)
        }
    }

    private static func fuzz(_ valid: [UInt8]) throws {
        var rng = SplitMix64(state: 7)
        var errors = 0
        for _ in 0..<3000 {
            var bytes = valid
            switch rng.below(3) {
            case 0: bytes = Array(bytes.prefix(rng.below(bytes.count)))
            default:
                for _ in 0...rng.below(8) {
                    // Bias toward the header and section table, where the structure lives.
                    let at = rng.below(2) == 0 ? rng.below(64) : rng.below(bytes.count)
                    bytes[at] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            do {
                var object = try ObjectFile(bytes: bytes)
                for program in object.programs { _ = Disassembler.listing(program.instructions) }
                Self.prepare(object)
                do { try object.resolveKconfig(["LINUX_KERNEL_VERSION": 0x06_12_00]) } catch {
                    #expect(error.section != nil, "\(error)")
                }
            } catch {
                errors += 1
                #expect(error.section != nil || error.offset != nil || error.message.contains("whole number"), "\(error)")
            }
        }
        #expect(errors > 500)
    }
}

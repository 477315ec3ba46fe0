import BPFBenchmarks
import BPFCore
import BPFObject
import BPFTestSupport
import BTF
import Testing

private let bench = SharedFixtures.path("bench")
private let compilerReason = BPFCompiler.unavailableReason

@Suite("BTF line info and CO-RE records in objects")
struct SourceInfoTests {
    @Test(
        "programs carry their C source lines",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: bench != nil, "../shared/bench is absent"))
    func lineInfo() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(bench! + "/alu.bpf.c"))
        let program = try #require(object.program(named: "bench_alu"))
        let lines = program.sourceLines
        #expect(lines.count >= 5)
        #expect(lines.first?.instruction == 0)
        #expect(lines.first?.text.contains("ctx->data_end - ctx->data") == true)  // line 7 of alu.bpf.c
        #expect(lines.allSatisfy { $0.file.hasSuffix("alu.bpf.c") && $0.line > 0 && $0.instruction < program.instructions.count })
        #expect(zip(lines, lines.dropFirst()).allSatisfy { $0.instruction <= $1.instruction })
        #expect(lines.contains { $0.text.contains("x ^= x << 13") })
        // The function info names the program's FUNC type.
        let btf = try #require(object.btf)
        let functions = try #require(object.btfExt?.functions.first { btf.name($0.sectionNameOffset) == "xdp" })
        #expect(functions.records.map { btf.name(ofType: Int($0.typeID)) } == ["bench_alu"])
    }

    @Test(
        "CO-RE relocation records name the type and the access path",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func coreRecords() throws {
        let source = """
            #include <linux/bpf.h>
            #include <bpf/bpf_helpers.h>
            struct task { int pid; int tgid; } __attribute__((preserve_access_index));
            SEC("tp/sched/sched_process_exec")
            int read_tgid(void *ctx) {
                struct task *t = (struct task *)bpf_get_current_task();
                return __builtin_preserve_field_info(t->tgid, 0 /* BPF_FIELD_BYTE_OFFSET */);
            }
            char LICENSE[] SEC("license") = "GPL";
            """
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "core.bpf.c"))
        let btf = try #require(object.btf)
        let relocations = try #require(object.btfExt?.coreRelocations.first { btf.name($0.sectionNameOffset) == "tp/sched/sched_process_exec" })
        let record = try #require(relocations.records.first)
        #expect(btf.name(ofType: Int(record.typeID)) == "task")
        #expect(btf.name(record.accessStringOffset) == "0:1")
        #expect(record.kind == 0)  // BPF_CORE_FIELD_BYTE_OFFSET
        #expect(object.programs.first?.kind == SectionNames.Match(type: .tracepoint, attachTarget: "sched/sched_process_exec"))
    }

    @Test("malformed .BTF.ext is refused with the place named")
    func malformedExt() {
        func error(_ bytes: [UInt8]) -> BTFError? {
            do { _ = try BTFExt(bytes: bytes); return nil } catch { return error }
        }
        #expect(error([0x9f, 0xeb, 1, 0])?.message.contains("shorter") == true)
        var header: [UInt8] = [0x9f, 0xeb, 1, 0, 24, 0, 0, 0]
        header += [0, 0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]  // func info: 100 bytes that are not there
        #expect(error(header)?.message.contains("runs past") == true)
        var tooMany: [UInt8] = [0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        tooMany += [8, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0]  // record size 8, 65535 records, none present
        #expect(error(tooMany)?.message.contains("do not fit") == true)
    }
}

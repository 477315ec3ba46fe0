import BPFBenchmarks
import BPFObject
import BPFTestSupport
import BTF
import BPFCore
import BPFKernel
import BPFMaps
import BPFRuntime
import BPFVM
import BPFVerifier
import Testing

private let compilerReason = BPFCompiler.unavailableReason

/// Bitfields read with `BPF_CORE_READ_BITFIELD`: byte offset, byte size, and the left and
/// right shifts that isolate the bits, all CO-RE relocations.
private let program = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    #include <bpf/bpf_core_read.h>
    struct flags { int a; unsigned b : 3; unsigned c : 5; unsigned long long d : 40; } __attribute__((preserve_access_index));
    struct flags data = { .a = 7, .b = 5, .c = 21, .d = 0x12345678ab };
    SEC("xdp") int bits(struct xdp_md *ctx) {
        struct flags *f = &data;
        __u64 b = BPF_CORE_READ_BITFIELD(f, b), c = BPF_CORE_READ_BITFIELD(f, c), d = BPF_CORE_READ_BITFIELD(f, d);
        return b == 5 && c == 21 && d == 0x12345678ab ? XDP_PASS : XDP_DROP;
    }
    char LICENSE[] SEC("license") = "GPL";
    """

/// The same struct laid out otherwise, as another kernel might have it.
private let otherLayout = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    struct flags { long long pad; unsigned c : 5; unsigned b : 3; unsigned long long d : 40; int a; };
    struct flags data;
    SEC("xdp") int use(struct xdp_md *ctx) { return data.a; }
    char LICENSE[] SEC("license") = "GPL";
    """

@Suite("CO-RE bitfield relocations", .serialized)
struct BitfieldRelocationTests {
    @Test(
        "bitfields read through CO-RE give their values (relocated against the object's own BTF)",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func ownLayout() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: program, name: "bitfields.bpf.c"))
        let kinds = Set((object.btfExt?.coreRelocations.flatMap(\.records) ?? []).map(\.kind))
        #expect(kinds.isSuperset(of: [0, 1, 4, 5]), "relocation kinds \(kinds)")
        let loaded = try UserspaceObject(object).load(target: object.btf)
        #expect(try loaded.testRun(data: BenchmarkPrograms.packet).returnValue == 2)
    }

    /// An instruction whose compiled-in value disagrees with the object's own BTF (here a right
    /// shift, which is never ambiguous) is a located error, not a crash.
    @Test(
        "a compiled-in value that contradicts the BTF is refused with the instruction named",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func contradiction() throws {
        var bytes = try BPFCompiler.compile(text: program, name: "bitfields-bad.bpf.c")
        let parsed = try ObjectFile(bytes: bytes)
        let program = try #require(parsed.programs.first)
        let section = try #require(parsed.elf.section(named: program.section))
        let shift = try #require(program.instructions.firstIndex { $0.opcode == 0x77 && $0.imm == 61 })  // r >>= 61
        bytes[section.offset + program.sectionOffset + 8 * shift + 4] = 60
        let object = try ObjectFile(bytes: bytes)
        let error = try #require(throws: (any Error).self) { try UserspaceObject(object).load(target: object.btf) }
        #expect("\(error)".contains("instruction \(shift)") && "\(error)".contains("CO-RE"), "\(error)")
    }

    /// Against the other layout: c at bits 64-68, b at 69-71 and d at 72-111, as libbpf computes
    /// them (the smallest aligned load of at least the member type's size that holds the bits).
    @Test(
        "against another layout, offsets, sizes and shifts are libbpf's",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func otherTarget() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: program, name: "bitfields-local.bpf.c"))
        let target = try #require(try ObjectFile(bytes: try BPFCompiler.compile(text: otherLayout, name: "bitfields-other.bpf.c")).btf)
        let local = try #require(object.btf)
        let relocator = CORERelocator(local: local, target: target)
        // By member (access index in the local struct: a 0, b 1, c 2, d 3): byte offset, byte
        // size, left shift, right shift.
        let expected: [Int: [UInt32: UInt64]] = [
            1: [0: 8, 1: 4, 4: 56, 5: 61],
            2: [0: 8, 1: 4, 4: 59, 5: 59],
            3: [0: 8, 1: 8, 4: 16, 5: 24],
        ]
        var checked = 0
        for record in object.btfExt?.coreRelocations.flatMap(\.records) ?? [] {
            guard let member = local.name(record.accessStringOffset).split(separator: ":").last.flatMap({ Int($0) }),
                let value = expected[member]?[record.kind]
            else { continue }
            #expect(try relocator.resolve(record).target == value, "member \(member), relocation kind \(record.kind)")
            checked += 1
        }
        #expect(checked >= 9, "\(checked) relocations checked")
    }
}

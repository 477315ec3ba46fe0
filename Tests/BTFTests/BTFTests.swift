import BPFBenchmarks
import BPFObject
import BPFTestSupport
import BTF
import Foundation
import Testing

let vmlinuxPath = "/sys/kernel/btf/vmlinux"
let vmlinux = FileManager.default.contents(atPath: vmlinuxPath).map { Array($0) }
/// Whether the running kernel has the `bpf_task_from_pid` kfunc (Linux 6.2 and later).
let hasTaskFromPid = vmlinux.flatMap { try? BTF(bytes: $0) }?.typeID(named: "bpf_task_from_pid", where: { _ in true }) != nil
private let bench = SharedFixtures.path("bench")
private let compilerReason = BPFCompiler.unavailableReason
private let bpftoolPresent = (referenceToolOutput("bpftool", ["version"])) != nil

@Suite("BTF")
struct BTFTests {
    /// The kernel's own BTF, dumped in bpftool's raw format, must be bpftool's output byte for byte.
    @Test(
        "vmlinux BTF dumps exactly as bpftool dumps it",
        .enabled(if: vmlinux != nil, "\(vmlinuxPath) is absent: the kernel has no BTF"),
        .enabled(if: bpftoolPresent, "bpftool is not installed"))
    func vmlinuxAgainstBpftool() throws {
        let btf = try BTF(bytes: vmlinux!)
        #expect(btf.types.count > 10_000)
        let reference = try #require(referenceToolOutput("bpftool", ["btf", "dump", "file", vmlinuxPath]))
        let ours = btf.rawDump()
        guard ours != reference else { return }
        let a = ours.split(separator: "\n"), b = reference.split(separator: "\n")
        let first = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)
        Issue.record("first difference at line \(first + 1): ours '\(first < a.count ? a[first] : "")', bpftool '\(first < b.count ? b[first] : "")'")
    }

    @Test(
        "the .BTF of clang-compiled objects dumps exactly as bpftool dumps it",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: bench != nil, "../shared/bench is absent"),
        .enabled(if: bpftoolPresent, "bpftool is not installed"),
        arguments: ["alu", "checksum", "flow", "maps"])
    func objectsAgainstBpftool(name: String) throws {
        let bytes = try BPFCompiler.compile(bench! + "/\(name).bpf.c")
        let elf = try ELFFile(bytes: bytes)
        let section = try #require(elf.section(named: ".BTF"))
        let btf = try BTF(bytes: Array(elf.data(of: section)))
        let path = NSTemporaryDirectory() + "swiftbpf-btf-\(name).o"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        let reference = try #require(referenceToolOutput("bpftool", ["btf", "dump", "file", path]))
        #expect(btf.rawDump() == reference)
        // The program's function and its license variable are named in the type graph.
        #expect(btf.types.indices.contains { btf.name(ofType: $0) == "bench_\(name)" })
    }

    @Test(
        "encoding gives back the bytes it was parsed from: vmlinux and every bench object",
        .enabled(if: vmlinux != nil, "\(vmlinuxPath) is absent: the kernel has no BTF"),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: bench != nil, "../shared/bench is absent"))
    func encodingRoundTrip() throws {
        #expect(try BTF(bytes: vmlinux!).encoded() == vmlinux!)
        for name in ["alu", "checksum", "flow", "maps"] {
            let elf = try ELFFile(bytes: try BPFCompiler.compile(bench! + "/\(name).bpf.c"))
            let original = Array(elf.data(of: try #require(elf.section(named: ".BTF"))))
            #expect(try BTF(bytes: original).encoded() == original, "\(name).bpf.c")
        }
    }

    @Test("malformed BTF is refused with the place named")
    func malformed() {
        func error(_ bytes: [UInt8]) -> BTFError? {
            do { _ = try BTF(bytes: bytes); return nil } catch { return error }
        }
        #expect(error([])?.message.contains("shorter than its header") == true)
        #expect(error([0xeb, 0x9f, 1, 0] + Array(repeating: 0, count: 20))?.message.contains("magic") == true)  // big-endian
        var header: [UInt8] = [0x9f, 0xeb, 1, 0, 24, 0, 0, 0]
        header += [0, 0, 0, 0, 12, 0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0]  // 12 bytes of types, 1 of strings
        let unknownKind: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0x1f, 0, 0, 0, 0]  // kind 31
        let e = error(header + unknownKind + [0])
        #expect(e?.typeID == 1 && e?.message.contains("unknown BTF kind 31") == true)
        let truncatedStruct: [UInt8] = [0, 0, 0, 0, 2, 0, 0, 0x04, 8, 0, 0, 0]  // STRUCT with vlen 2, no members
        #expect(error(header + truncatedStruct + [0])?.message.contains("truncated") == true)
        var badNames = header
        badNames[16] = 0xff  // string section offset far past the end
        #expect(error(badNames + unknownKind + [0])?.message.contains("do not fit") == true)
    }

    @Test("sizes resolve through typedefs and arrays, and cycles end")
    func sizes() throws {
        // [1] INT 'int' size 4; [2] TYPEDEF -> 1; [3] ARRAY of 2 x 10; [4] ARRAY of itself.
        var types: [UInt8] = []
        func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        types += u32(1) + u32(0x0100_0000) + u32(4) + u32(0x0100_0020)  // INT 'int' 32 bits, name at 1
        types += u32(0) + u32(0x0800_0000) + u32(1)  // TYPEDEF -> 1
        types += u32(0) + u32(0x0300_0000) + u32(0) + u32(2) + u32(1) + u32(10)  // ARRAY 10 x [2]
        types += u32(0) + u32(0x0300_0000) + u32(0) + u32(4) + u32(1) + u32(2)  // ARRAY 2 x [4]: itself
        let strings: [UInt8] = [0] + Array("int".utf8) + [0]
        let header = [0x9f, 0xeb, 1, 0] + u32(24) + u32(0) + u32(UInt32(types.count)) + u32(UInt32(types.count)) + u32(UInt32(strings.count))
        let btf = try BTF(bytes: header + types + strings)
        #expect(btf.size(of: 2) == 4)
        #expect(btf.size(of: 3) == 40)
        #expect(btf.size(of: 4) == nil)
        #expect(btf.size(of: 99) == nil)
        #expect(btf.name(ofType: 1) == "int")
    }

    @Test("CO-RE type matching over hostile BTF gives up with an error instead of taking exponential time")
    func hostileTypeMatching() throws {
        // [1] STRUCT 's' { [1] a; [1] a; [1] a; [1] a; } — itself by value, four times under one
        // name: every local member is compared with every target member, 32 levels deep.
        var types: [UInt8] = []
        func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        types += u32(1) + u32(0x0400_0004) + u32(8)
        for _ in 0..<4 { types += u32(3) + u32(1) + u32(0) }
        let strings: [UInt8] = [0] + Array("s".utf8) + [0] + Array("a".utf8) + [0] + Array("0".utf8) + [0]
        let header = [0x9f, 0xeb, 1, 0] + u32(24) + u32(0) + u32(UInt32(types.count)) + u32(UInt32(types.count)) + u32(UInt32(strings.count))
        let btf = try BTF(bytes: header + types + strings)
        let relocator = CORERelocator(local: btf, target: btf)
        let record = BTFExt.CORERelocation(instructionOffset: 0, typeID: 1, accessStringOffset: 5, kind: 12)  // TYPE_MATCHES
        let error = #expect(throws: BTFError.self) { try relocator.resolve(record) }
        #expect(error?.description.contains("more than 100000 steps") == true, "\(String(describing: error))")
    }

    @Test("types that are their own targets end the C header's walk instead of recursing forever")
    func cyclesInCHeader() throws {
        // [1] INT 'int'; [2] ARRAY of itself; [3] PTR to itself; [4] CONST -> [5] VOLATILE -> [4];
        // [6] TYPEDEF 'int' -> [3]; [7] STRUCT 'int' { [2] a; [4] b; } — every cycle reached
        // from a named type.
        var types: [UInt8] = []
        func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        types += u32(1) + u32(0x0100_0000) + u32(4) + u32(0x0100_0020)
        types += u32(0) + u32(0x0300_0000) + u32(0) + u32(2) + u32(1) + u32(2)
        types += u32(0) + u32(0x0200_0000) + u32(3)
        types += u32(0) + u32(0x0a00_0000) + u32(5)
        types += u32(0) + u32(0x0900_0000) + u32(4)
        types += u32(1) + u32(0x0800_0000) + u32(3)
        types += u32(1) + u32(0x0400_0002) + u32(16) + u32(1) + u32(2) + u32(0) + u32(1) + u32(4) + u32(64)
        let strings: [UInt8] = [0] + Array("int".utf8) + [0]
        let header = [0x9f, 0xeb, 1, 0] + u32(24) + u32(0) + u32(UInt32(types.count)) + u32(UInt32(types.count)) + u32(UInt32(strings.count))
        let text = try BTF(bytes: header + types + strings).cHeader()
        #expect(text.contains("typedef") && text.hasSuffix("#endif /* __VMLINUX_H__ */\n"))
    }

    /// Random corruption of real BTF ends in parsed types or a BTFError, never a crash.
    @Test("mutated BTF never crashes the parser, the dumps, the value formatter or the encoder", .enabled(if: vmlinux != nil, "\(vmlinuxPath) is absent"))
    func fuzz() {
        // A real header and the first types, cut so that the sections stay consistent.
        var base = Array(vmlinux!.prefix(24 + 4096))
        let typeLength = UInt32(4096 - 64), stringStart = typeLength
        base.replaceSubrange(8..<24, with: withUnsafeBytes(of: [0, typeLength, stringStart, 64].map { UInt32($0).littleEndian }) { Array($0) })
        var rng = SplitMix64(state: 99)
        var failures = 0
        for _ in 0..<3000 {
            var bytes = base
            for _ in 0...rng.below(6) {
                bytes[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next())
            }
            if rng.below(4) == 0 { bytes = Array(bytes.prefix(rng.below(bytes.count))) }
            do {
                let btf = try BTF(bytes: bytes)
                _ = btf.rawDump()
                _ = btf.cHeader()
                let value = (0..<rng.below(64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                for _ in 0..<4 { _ = btf.json(value, type: UInt32(rng.below(btf.types.count + 2))) }
                #expect(btf.encoded().count >= 24)
            } catch {
                failures += 1
                #expect(error.offset != nil || error.typeID != nil)
            }
        }
        #expect(failures > 100)
    }
}

/// A struct whose BTF claims 0xffffffff bytes around one int: the header pads it with one byte
/// array, not half a billion lines.
@Test("a struct claiming 4 GiB dumps as C in constant space")
func hugeStructHeader() throws {
    func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
    let strings = Array("\0int\0big\0a\0".utf8)
    let types =
        u32(1) + u32(0x0100_0000) + u32(4) + u32(32)  // [1] int: 4 bytes, 32 bits
        + u32(5) + u32(0x0400_0001) + u32(0xffff_ffff) + u32(9) + u32(1) + u32(0)  // [2] struct big { int a; } of 0xffffffff bytes
    let header = [0x9f, 0xeb, 1, 0] + u32(24) + u32(0) + u32(UInt32(types.count)) + u32(UInt32(types.count)) + u32(UInt32(strings.count))
    let btf = try BTF(bytes: header + types + strings)
    let text = btf.cHeader()
    #expect(text.count < 10_000 && text.contains("char __pad_8[4294967287];"), "\(text.prefix(2000))")
}

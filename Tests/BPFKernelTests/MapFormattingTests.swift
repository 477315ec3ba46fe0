import BPFBenchmarks
import BPFKernel
import BPFObject
import BPFTestSupport
import BTF
import Foundation
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason
private let bpftoolPresent = (referenceToolOutput("bpftool", ["version"])) != nil

/// Maps whose values exercise every rule of the formatting: signed and unsigned integers of each
/// size, strings and non-strings in char arrays, nested structs, matched and unmatched enums,
/// bitfields, pointers, an anonymous union, bool; per-CPU values; global data sections.
private let source = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    enum color { RED = 1, GREEN = 2, BLUE = -3 };
    enum wide : unsigned long long { HUGE = 0xfffffffffffULL };
    struct inner { unsigned short a[3]; _Bool ok; };
    struct value {
        int neg; unsigned long long big; char name[8]; struct inner in; enum color c;
        unsigned int bits : 3, more : 5, across : 20; void *ptr; union { int i; char b[4]; };
        signed char sc; char raw[4]; enum wide w; short s; unsigned char uc;
    };
    struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, __u32); __type(value, struct value); } vals SEC(".maps");
    struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 2); __type(key, __u32); __type(value, struct inner); } per_cpu SEC(".maps");
    const volatile int bias = 3;
    const volatile char tag[6] = "abc";
    long counter = 9;
    SEC("xdp") int prog(struct xdp_md *ctx) {
        __u32 k = 1;
        struct value *v = bpf_map_lookup_elem(&vals, &k);
        struct inner *p = bpf_map_lookup_elem(&per_cpu, &k);
        counter++;
        return (v ? v->neg : 0) + (p ? p->ok : 0) + bias + tag[1];
    }
    char LICENSE[] SEC("license") = "GPL";
    """

@Suite("BTF-decoded map dumps against bpftool", .serialized)
struct MapFormattingTests {
    @Test(
        "entries decode through the map's BTF exactly as bpftool's formatted output, over random values",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: bpftoolPresent, "bpftool is not installed"))
    func againstBpftool() throws {
        let object = try KernelObject(try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "formatted.bpf.c")))
        let vals = try #require(object.map(named: "vals"))
        var random = SplitMix64(state: 0x5eed)
        // Printable, but no backslash: bpftool's JSON writer prints one as "\n" (we escape it as "\\").
        func bytes(_ count: Int, printable: Bool) -> [UInt8] {
            (0..<count).map { _ in
                let c = printable ? UInt8(0x20 + random.next() % 0x5f) : UInt8(truncatingIfNeeded: random.next())
                return c == 0x5c ? 0x2f : c
            }
        }
        for key in 0..<48 as Range<UInt32> {
            var value = bytes(vals.definition.valueSize, printable: key % 3 == 0)
            if key % 2 == 0 { value[16 + Int(key % 8)] = 0 }  // name: a string up to its NUL
            if key % 4 == 1 { value[32..<36] = [0xfd, 0xff, 0xff, 0xff] }  // enum color BLUE
            try vals.update(withUnsafeBytes(of: key.littleEndian, Array.init), value)
        }
        let perCPU = try #require(object.map(named: "per_cpu"))
        let cpuValues = bytes(perCPU.valueBufferSize, printable: false)
        try perCPU.update([1, 0, 0, 0], cpuValues)

        for map in object.maps where map.definition.type != .ringbuf {
            let reopened = try KernelMap(id: try #require(Inventory.map(fd: map.fd)).id)
            let btf = try #require(try reopened.typeInformation(), "\(map.definition.name) has no BTF in the kernel")
            let ours = try reopened.formattedEntries(btf).map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? NSDictionary }
            let id = try #require(Inventory.map(fd: map.fd)).id
            let dump = try #require(referenceToolOutput("bpftool", ["-j", "map", "dump", "id", "\(id)"]))
            let entries = try #require(try JSONSerialization.jsonObject(with: Data(dump.utf8)) as? [[String: Any]])
            let theirs = entries.map { $0["formatted"] as? NSDictionary }
            #expect(ours.count == theirs.count && !ours.isEmpty, "\(map.definition.name)")
            for (index, (mine, reference)) in zip(ours, theirs).enumerated() {
                #expect(
                    mine != nil && mine == reference,
                    "\(map.definition.name) entry \(index): ours \(String(describing: mine)), bpftool \(String(describing: reference))")
            }
        }
    }
}

import BPFBenchmarks
import BPFObject
import BPFTestSupport
import BTF
import Foundation
import Testing

/// `btf dump --format c` must give a header clang accepts, whose types have the layout BTF
/// describes: each test compiles the header with `_Static_assert`s on the size of every
/// uniquely named struct and union and the offset of each of their named members.
@Suite("BTF as a C header", .serialized, .enabled(if: BPFCompiler.unavailableReason == nil, "\(BPFCompiler.unavailableReason ?? "")"))
struct CHeaderTests {
    /// `_Static_assert`s of the layout BTF gives, for types whose C name is their BTF name.
    private static func layoutAssertions(_ btf: BTF) -> (text: String, count: Int) {
        var tags: [String: Int] = [:]
        for type in btf.types where type.nameOffset != 0 {
            switch type.kind {
            case .structure, .union, .enumeration, .enumeration64: tags[btf.name(type.nameOffset), default: 0] += 1
            default: break
            }
        }
        var text = "", count = 0
        for type in btf.types where type.nameOffset != 0 {
            let keyword: String, size: UInt32, members: [BTFType.Member]
            switch type.kind {
            case let .structure(s, m): (keyword, size, members) = ("struct", s, m)
            case let .union(s, m): (keyword, size, members) = ("union", s, m)
            default: continue
            }
            let name = btf.name(type.nameOffset)
            // `va_list` is the compiler's own type, a pointer under -target bpf (the kernel's
            // x86 one is 24 bytes): the one type a header cannot carry across.
            guard tags[name] == 1, !members.contains(where: { Self.isVarArgList(btf, $0.type) }) else { continue }
            text += "_Static_assert(sizeof(\(keyword) \(name)) == \(size), \"size of \(name)\");\n"
            count += 1
            for member in members where member.nameOffset != 0 && member.bitfieldSize == 0 && member.bitOffset % 8 == 0 {
                let field = btf.name(member.nameOffset)
                text += "_Static_assert(__builtin_offsetof(\(keyword) \(name), \(field)) == \(member.bitOffset / 8), \"\(name).\(field)\");\n"
                count += 1
            }
        }
        return (text, count)
    }

    private static func isVarArgList(_ btf: BTF, _ id: UInt32) -> Bool {
        var id = id
        for _ in 0..<16 {
            guard let type = btf.type(id), case let .typedef(target) = type.kind else { return false }
            if btf.name(type.nameOffset) == "__builtin_va_list" { return true }
            id = target
        }
        return false
    }

    private static func compileHeader(_ btf: BTF, name: String) throws -> Int {
        let (assertions, count) = layoutAssertions(btf)
        _ = try BPFCompiler.compile(text: btf.cHeader() + "\n" + assertions, name: name)
        return count
    }

    @Test(
        "the kernel's vmlinux BTF becomes a vmlinux.h clang compiles, with the kernel's layout",
        .enabled(if: vmlinux != nil, "\(vmlinuxPath) is absent"))
    func vmlinuxHeader() throws {
        let count = try Self.compileHeader(try BTF(bytes: try #require(vmlinux)), name: "vmlinux-header.c")
        #expect(count > 10_000)
    }

    @Test(
        "the header declares the kernel's kfuncs as current bpftool does, and a program probing and calling one compiles against it",
        .enabled(if: vmlinux != nil, "\(vmlinuxPath) is absent"),
        .enabled(if: hasTaskFromPid, "this kernel has no bpf_task_from_pid kfunc (Linux 6.2 and later have)"))
    func kfuncPrototypes() throws {
        let header = try BTF(bytes: try #require(vmlinux)).cHeader()
        let kfuncs = header.split(separator: "\n").filter { $0.hasPrefix("extern ") && $0.hasSuffix(" __weak __ksym;") }
        #expect(kfuncs.count > 50, "the kernel tags its kfuncs bpf_kfunc")
        #expect(header.contains("extern struct task_struct *bpf_task_from_pid(s32 pid) __weak __ksym;"))
        _ = try BPFCompiler.compile(
            text: header + """
                #include <bpf/bpf_helpers.h>
                #ifndef bpf_ksym_exists  /* libbpf 1.2 and later define it */
                #define bpf_ksym_exists(sym) (!!(sym))
                #endif
                SEC("tp/syscalls/sys_enter_kill") int probe(void *ctx) {
                    if (!bpf_ksym_exists(bpf_task_from_pid)) return 0;
                    struct task_struct *task = bpf_task_from_pid(1);
                    if (task) bpf_task_release(task);
                    return 0;
                }
                char LICENSE[] SEC("license") = "GPL";
                """, name: "kfunc-header.c")
    }

    @Test("an object's types — function pointers, anonymous members, bitfields, packing, arrays of pointers — keep their layout")
    func objectHeader() throws {
        let source = """
            #include <linux/types.h>
            #include <linux/bpf.h>
            #include <bpf/bpf_helpers.h>
            typedef struct node node_t;
            typedef int (*handler_t)(node_t *, const char *, ...);
            enum colour { RED = -1, GREEN = 7, BLUE = 0x80000000 };
            struct packed { char c; __u64 v; int i; } __attribute__((packed));
            struct aligned { char c; __u64 v __attribute__((aligned(16))); };
            struct node {
                struct packed pk;
                char after_packed;
                struct aligned al;
                node_t *next;
                handler_t handle;
                void (*callbacks[3])(struct node *self, unsigned long long);
                int (*matrix)[4];
                union { __u32 word; struct { __u16 low, high; }; };
                enum { SMALL, LARGE } size_class;
                enum colour colour;
                unsigned int a: 3, b: 13;
                unsigned long long c: 40;
                char tail[5];
                const volatile __u64 *const counters;
            };
            struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct node); } nodes SEC(".maps");
            SEC("xdp") int use(void *ctx) {
                __u32 k = 0;
                struct node *n = bpf_map_lookup_elem(&nodes, &k);
                return n ? n->a + n->colour + n->pk.i + n->al.c : 0;
            }
            char LICENSE[] SEC("license") = "GPL";
            """
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "cheader-types.bpf.c"))
        let btf = try #require(object.btf)
        let header = btf.cHeader()
        for declaration in [
            "typedef struct node node_t;", "typedef int (*handler_t)(node_t *, const char *, ...);",
            "void (*callbacks[3])(struct node *, unsigned long long);", "int (*matrix)[4];",
            "unsigned int a: 3;", "unsigned long long c: 40;", "RED = -1,", "} __attribute__((packed));",
            "const volatile __u64 *const counters;",
        ] {
            #expect(header.contains(declaration), "missing: \(declaration)")
        }
        #expect(try Self.compileHeader(btf, name: "cheader-types-check.c") >= 15)
    }
}

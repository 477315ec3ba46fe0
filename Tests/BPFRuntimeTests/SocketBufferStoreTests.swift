import BPFBenchmarks
import BPFKernel
import BPFObject
import BPFTestSupport
import BPFCore
import BPFMaps
import BPFRuntime
import BPFVM
import BPFVerifier
import BTF
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason

/// Stores to the `__sk_buff` fields each program type may write, read back after a compiler
/// barrier (so the loads are real) and folded into r0; reads of the fields past `data_end`
/// (time stamps, `wire_len`, GSO, `napi_id`, `data_meta`); `socket_mark` stores where the
/// type may not.
private let source = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    #define reload() asm volatile("" ::: "memory")
    SEC("tc") int tc_fields(struct __sk_buff *skb) {
        skb->mark = 0x1234;
        skb->priority = 5;
        skb->tc_index = 3;
        skb->tc_classid = 0x10002;
        skb->cb[2] = skb->len;
        skb->cb[4] = 0x700;
        reload();
        return skb->mark + skb->priority * 3 + skb->tc_index * 7 + skb->tc_classid + skb->cb[2] * 11 + skb->cb[4] + skb->cb[0];
    }
    SEC("socket") int socket_cb(struct __sk_buff *skb) {
        skb->cb[1] = skb->len * 2;
        reload();
        return skb->cb[1] + skb->cb[3];
    }
    SEC("tc") int tc_later_fields(struct __sk_buff *skb) {
        skb->tstamp = 0x123456789;
        skb->cb[0] = skb->len;
        reload();
        __u32 r = skb->wire_len + skb->gso_segs * 3 + skb->gso_size * 5 + skb->napi_id * 7 + skb->tstamp_type * 11;
        r += (__u32)skb->hwtstamp * 13 + (__u32)(skb->tstamp >> 4) + skb->cb[0];
        return r + ((void *)(long)skb->data_meta == (void *)(long)skb->data ? 0x40000000 : 0);
    }
    SEC("socket") int socket_later_fields(struct __sk_buff *skb) {
        return skb->napi_id + skb->gso_segs * 3 + skb->gso_size * 5 + skb->len;
    }
    SEC("socket") int socket_mark(struct __sk_buff *skb) {
        skb->mark = 1;
        return 0;
    }
    char LICENSE[] SEC("license") = "GPL";
    """

@Suite("Stores to socket buffer fields")
struct SocketBufferStoreTests {
    /// tc may set mark, priority, tc_index, tc_classid, cb[] and tstamp; a socket filter only
    /// cb[]; both read the fields past `data_end` their type may: every engine returns what
    /// the kernel's test run returns.
    @Test(
        "tc and socket filter programs write and read the fields the kernel lets them, with the kernel's results",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func againstKernel() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "skb_stores.bpf.c"))
        let kernel = try KernelObject(object)
        let ours = try UserspaceObject(object)
        for name in ["tc_fields", "socket_cb", "tc_later_fields", "socket_later_fields"] {
            let expected = try kernel.load(program: name).testRun(data: BenchmarkPrograms.packet).returnValue
            let program = try ours.load(program: name)
            for mode in [ExecutionMode.checked(), .fast, .jit] {
                let actual = try program.testRun(data: BenchmarkPrograms.packet, mode: mode).returnValue
                #expect(actual == expected, "\(name), \(mode): 0x\(String(actual, radix: 16)), the kernel's 0x\(String(expected, radix: 16))")
            }
        }
    }

    /// Both verifiers refuse a socket filter's store to mark, at that instruction.
    @Test(
        "a socket filter's store to mark is refused, as the kernel refuses it",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func markIsReadOnlyToSocketFilters() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "skb_stores.bpf.c"))
        let refusal = #expect(throws: (any Error).self) { try UserspaceObject(object).load(program: "socket_mark") }
        #expect(String(describing: refusal).contains("invalid bpf_context access"), "\(String(describing: refusal))")
        if kernelReason == nil {
            let kernelRefusal = #expect(throws: KernelError.self) { try KernelObject(object).load(program: "socket_mark") }
            #expect(kernelRefusal?.log?.contains("invalid bpf_context access") == true)
        }
    }
}

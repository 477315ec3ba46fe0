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

/// A program that moves the packet's head and tail by amounts read from the packet itself
/// (bytes 0-1 and 2-3, little-endian signed), then returns the helpers' results or XDP_TX.
private let source = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    SEC("xdp") int adjust(struct xdp_md *ctx) {
        void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
        if (data + 4 > end) return XDP_ABORTED;
        short head = *(short *)data, tail = *(short *)(data + 2);
        if (head == 0x7777) return bpf_redirect(tail, 0);
        if (bpf_xdp_adjust_tail(ctx, tail)) return 100;
        if (bpf_xdp_adjust_head(ctx, head)) return 101;
        data = (void *)(long)ctx->data; end = (void *)(long)ctx->data_end;
        if (data + 1 > end) return XDP_ABORTED;
        *(char *)data = 0x42;
        return XDP_TX;
    }
    char LICENSE[] SEC("license") = "GPL";
    """

@Suite("XDP helpers against the kernel", .serialized)
struct XDPHelperTests {
    @Test(
        "adjust_head, adjust_tail and redirect move and bound the packet as the kernel does",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func againstKernel() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "adjust.bpf.c"))
        let kernel = try KernelObject(object).load(), ours = try UserspaceObject(object).load()
        func packet(head: Int16, tail: Int16, length: Int) -> [UInt8] {
            var p = [UInt8](repeating: 0xab, count: length)
            withUnsafeBytes(of: head.littleEndian) {
                p[0] = $0[0]; p[1] = $0[1]
            }
            withUnsafeBytes(of: tail.littleEndian) {
                p[2] = $0[0]; p[3] = $0[1]
            }
            return p
        }
        var outcomes: Set<UInt32> = []
        for (head, tail, length): (Int16, Int16, Int) in [
            (0, 0, 60), (-14, 0, 60), (14, 0, 60), (46, 0, 60), (47, 0, 60), (-216, 0, 60), (-217, 0, 60),
            (0, 100, 60), (0, -46, 60), (0, -47, 60), (0, 3460, 60), (0, 3461, 60), (-216, 3460, 60),
            (20, -20, 100), (0x7777, 3, 60), (0x7777, 0, 60),
        ] {
            let data = packet(head: head, tail: tail, length: length)
            let expected = try kernel.testRun(data: data)
            for mode in [ExecutionMode.checked(), .jit] {
                let actual = try ours.testRun(data: data, mode: mode)
                #expect(actual.returnValue == expected.returnValue, "head \(head), tail \(tail), \(mode)")
                #expect(actual.data == expected.data, "head \(head), tail \(tail), \(mode)")
            }
            outcomes.insert(expected.returnValue)
        }
        #expect(outcomes.isSuperset(of: [3, 4, 100, 101]))  // moved, redirected, and both refusals
    }

    /// csum_diff over packet bytes with sizes and a seed the packet chooses: random packets,
    /// odd sizes and empty buffers included.
    @Test(
        "csum_diff gives the kernel's partial checksums",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func checksumDiff() throws {
        let source = """
            #include <linux/bpf.h>
            #include <bpf/bpf_helpers.h>
            SEC("xdp") int csum(struct xdp_md *ctx) {
                void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
                if (data + 144 > end) return 0;
                __u32 seed = *(__u32 *)data;
                __u8 from = *(__u8 *)(data + 4), to = *(__u8 *)(data + 5);
                if (from > 64 || to > 64) return 0;
                return (__u32)bpf_csum_diff((__be32 *)(data + 8), from, (__be32 *)(data + 72), to, seed);
            }
            char LICENSE[] SEC("license") = "GPL";
            """
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "csum.bpf.c"))
        let kernel = try KernelObject(object).load(), ours = try UserspaceObject(object).load()
        var rng = SplitMix64(state: 5)
        var results: Set<UInt32> = []
        for trial in 0..<400 {
            var packet = (0..<144).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            packet[4] = UInt8(rng.below(3) == 0 ? 0 : rng.below(65))
            packet[5] = UInt8(rng.below(3) == 0 ? 0 : rng.below(65))
            if trial % 50 == 0 { packet.replaceSubrange(8..<144, with: [UInt8](repeating: 0xff, count: 136)) }
            let expected = try kernel.testRun(data: packet).returnValue
            #expect(try ours.testRun(data: packet).returnValue == expected, "trial \(trial): sizes \(packet[4]), \(packet[5])")
            #expect(try ours.testRun(data: packet, mode: .jit).returnValue == expected, "JIT, trial \(trial)")
            results.insert(expected)
        }
        #expect(results.count > 200)
    }
}

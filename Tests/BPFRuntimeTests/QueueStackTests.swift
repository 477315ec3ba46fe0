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

/// Each packet byte is an operation on a 4-entry queue and stack: push (plain or overwriting),
/// pop or peek; the result folds every popped value and error code.
private let source = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    struct { __uint(type, BPF_MAP_TYPE_QUEUE); __uint(max_entries, 4); __uint(value_size, 4); } q SEC(".maps");
    struct { __uint(type, BPF_MAP_TYPE_STACK); __uint(max_entries, 4); __uint(value_size, 4); } s SEC(".maps");
    SEC("xdp") int ops(struct xdp_md *ctx) {
        unsigned char *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
        __u32 acc = 7;
        for (int i = 0; i < 24; i++) {
            if (data + i + 1 > end) break;
            __u8 op = data[i];
            void *map = (op & 8) ? (void *)&s : (void *)&q;
            __u32 v = op * 1000 + i;
            long r;
            switch (op & 3) {
            case 0: r = bpf_map_push_elem(map, &v, 0); break;
            case 1: r = bpf_map_push_elem(map, &v, BPF_EXIST); break;
            case 2: r = bpf_map_pop_elem(map, &v); break;
            default: r = bpf_map_peek_elem(map, &v); break;
            }
            acc = acc * 31 + (r ? (__u32)r : v);
        }
        return acc;
    }
    char LICENSE[] SEC("license") = "GPL";
    """

/// Pops until the map is empty.
private func drain(_ map: QueueStackMap) -> [[UInt8]] {
    var out: [[UInt8]] = []
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: map.shape.valueSize, alignment: 8)
    defer { buffer.deallocate() }
    while true {
        do { try map.take(into: buffer, remove: true) } catch { return out }
        out.append(Array(UnsafeRawBufferPointer(start: buffer, count: map.shape.valueSize)))
    }
}

@Suite("Queues and stacks")
struct QueueStackTests {
    @Test(
        "push, pop and peek agree with the kernel, results and leftovers",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func againstKernel() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "queue.bpf.c"))
        var rng = SplitMix64(state: 21)
        for trial in 0..<60 {
            let kernel = try KernelObject(object), ours = try UserspaceObject(object)
            let kernelProgram = try kernel.load(), ourProgram = try ours.load()
            let packet = (0..<24).map { _ in UInt8([0, 1, 2, 3, 8, 9, 10, 11][rng.below(8)]) } + [UInt8](repeating: 0, count: 36)
            let expected = try kernelProgram.testRun(data: packet).returnValue
            #expect(try ourProgram.testRun(data: packet).returnValue == expected, "trial \(trial)")
            for (kernelMap, ourMap) in zip(kernel.maps, ours.maps) {
                var theirs: [[UInt8]] = []
                while let v = try kernelMap.pop() { theirs.append(v) }
                let mine = drain(try #require(ourMap as? QueueStackMap))
                #expect(mine == theirs, "trial \(trial), \(ourMap.name)")
            }
        }
    }
}

import BPFBenchmarks
import BPFCore
import BPFKernel
import BPFMaps
import BPFObject
import BPFRuntime
import BPFVM
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason

/// An XDP program sending a header and the packet's first bytes (as many as its first byte
/// says) to the slot its second byte names (255: this CPU's), and a tracepoint program sending its record's
/// first word.
private let source = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, 4); __uint(value_size, 4); } events SEC(".maps");
    SEC("xdp") int sample(struct xdp_md *ctx) {
        void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
        if (data + 2 > end) return XDP_ABORTED;
        __u64 header = 0x1122334455667788ULL;
        __u32 slot = *(__u8 *)(data + 1);
        __u64 flags = (slot == 255 ? BPF_F_CURRENT_CPU : slot) | ((__u64)*(__u8 *)data << 32);
        return bpf_perf_event_output(ctx, &events, flags, &header, sizeof(header)) == 0 ? XDP_PASS : XDP_DROP;
    }
    SEC("tracepoint/syscalls/sys_enter_getppid") int traced(unsigned long long *ctx) {
        __u64 first = ctx[1];
        return bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &first, sizeof(first));
    }
    char LICENSE[] SEC("license") = "GPL";
    """

@Suite("Perf event arrays in the userspace runtime", .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
struct PerfEventArrayTests {
    private func object() throws -> ObjectFile { try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "perf.bpf.c")) }

    @Test("records reach the reader with the packet bytes asked for; none without a reader; a full ring counts what it loses")
    func records() throws {
        let loaded = try UserspaceObject(object())
        let sample = try loaded.load(program: "sample")
        let events = try #require(loaded.map(named: "events") as? PerfEventArrayMap)
        var packet = [UInt8](repeating: 0xab, count: 64)
        (packet[0], packet[1]) = (6, 0)
        // No reader yet: ENOENT, so the program drops.
        #expect(try sample.testRun(data: packet).returnValue == 1)
        events.open(bytesPerSlot: 64)
        for mode in [ExecutionMode.checked(), .jit] { #expect(try sample.testRun(data: packet, mode: mode).returnValue == 2) }
        var records: [[UInt8]] = []
        #expect(events.consume { _, bytes in records.append(bytes) } == 2)
        let header: [UInt8] = [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]
        #expect(records == [header + packet.prefix(6), header + packet.prefix(6)])
        // 64 bytes hold two 24-byte records: the third and fourth are lost.
        for _ in 0..<4 { _ = try sample.testRun(data: packet) }
        #expect(events.lost == 2 && events.consume { _, _ in } == 2)
        packet[1] = UInt8(events.shape.maxEntries)  // past the slots: E2BIG
        #expect(try sample.testRun(data: packet).returnValue == 1)
        packet[1] = 0
        packet[0] = 65  // more than the packet: EFAULT
        #expect(try sample.testRun(data: packet).returnValue == 1)
        // A tracepoint program, on this CPU's slot.
        var record = [UInt8](repeating: 0, count: 16)
        record[8] = 42
        #expect(try loaded.load(program: "traced").run(record: record) == 0)
        var traced: [[UInt8]] = []
        events.consume { _, bytes in traced.append(bytes) }
        #expect(traced == [[42, 0, 0, 0, 0, 0, 0, 0]])
    }

    @Test(
        "the same records as the kernel's perf buffer",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")))
    func againstKernel() throws {
        let file = try object()
        // The kernel sends only to the running CPU's event: BPF_F_CURRENT_CPU.
        var packet = [UInt8](repeating: 0x5a, count: 40)
        (packet[0], packet[1]) = (13, 255)
        let kernelObject = try KernelObject(file)
        let reader = try KernelPerfBuffer(try #require(kernelObject.map(named: "events")))
        let kernelRun = try kernelObject.load(program: "sample").testRun(data: packet)
        var kernelRecords: [[UInt8]] = []
        reader.consume { _, bytes in kernelRecords.append(Array(bytes)) }
        let ours = try UserspaceObject(file)
        let events = try #require(ours.map(named: "events") as? PerfEventArrayMap)
        events.open()
        #expect(try ours.load(program: "sample").testRun(data: packet).returnValue == kernelRun.returnValue)
        var ourRecords: [[UInt8]] = []
        events.consume { _, bytes in ourRecords.append(bytes) }
        // The kernel pads each record to 8-byte units with its 4-byte size word.
        #expect(kernelRecords.count == 1 && ourRecords.count == 1)
        #expect(kernelRecords.first.map { Array($0.prefix(21)) } == ourRecords.first)
    }
}

import BPFPlatform
import BPFBenchmarks
import BPFCore
import BPFKernel
import BPFObject
import Foundation
import BPFTestSupport
import BPFMaps
import BPFRuntime
import BPFVM
import BPFVerifier
import BTF
import Testing

private let compilerReason = BPFCompiler.unavailableReason
private let kernelReason = KernelSupport.unavailableReason
private let packet: [UInt8] = [0xab] + Array(repeating: 0, count: 59)

private let source = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    SEC("xdp") int hello(struct xdp_md *ctx) {
        void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
        int delta = -5;
        bpf_printk("packet of %d bytes, first byte 0x%02x, delta %d", (int)(end - data), data + 1 <= end ? *(unsigned char *)data : 0, delta);
        bpf_printk("%llu|%5u|%-4d|%c%%", 12345678901ULL, 42, 7, 'Z');
        return XDP_PASS;
    }
    char LICENSE[] SEC("license") = "GPL";
    """

@Suite("bpf_printk to a host sink")
struct TracePrintkTests {
    @Test(
        "bpf_printk lines reach traceOutput, formatted as the kernel formats them, in every engine",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func lines() throws {
        final class Lines { var all: [String] = [] }
        let lines = Lines()
        let program = try UserspaceObject(try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "printk.bpf.c"))).load()
        program.traceOutput = { lines.all.append($0) }
        for mode in [ExecutionMode.checked(), .fast, program.defaultMode] {
            #expect(try program.testRun(data: packet, mode: mode).returnValue == 2)
        }
        #expect(lines.all == Array(repeating: ["packet of 60 bytes, first byte 0xab, delta -5", "12345678901|   42|7   |Z%"], count: 3).flatMap { $0 })
        program.traceOutput = nil
        _ = try program.testRun(data: [1])
        #expect(lines.all.count == 6, "lines arrived after the sink was removed")
    }

    /// The kernel writes the same program's lines to its trace buffer: they must read the same.
    @Test(
        "the lines are the kernel's own, read back from its trace buffer",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: FileManager.default.fileExists(atPath: "/sys/kernel/tracing/trace"), "tracefs is not mounted at /sys/kernel/tracing"))
    func againstKernel() throws {
        let object = try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "printk-kernel.bpf.c"))
        final class Lines { var all: [String] = [] }
        let ours = Lines()
        let program = try UserspaceObject(object).load()
        program.traceOutput = { ours.all.append($0) }
        _ = try program.testRun(data: packet)

        // The trace clock is per CPU, so a marker written before the run may sort after its lines
        // when the thread moves between CPUs: find the lines by the thread that ran the program.
        let thread = currentThreadID()
        _ = try KernelObject(object).load().testRun(data: packet)
        // Read to the end: Foundation stops a virtual file at its first page.
        let trace = try #require(readTextFile("/sys/kernel/tracing/trace"))
        let theirs = trace.split(separator: "\n").compactMap { line -> String? in
            guard let message = line.range(of: ": bpf_trace_printk: "),
                let cpu = line.range(of: " ["), cpu.lowerBound < message.lowerBound,
                line[..<cpu.lowerBound].split(separator: " ").last?.hasSuffix("-\(thread)") == true
            else { return nil }
            return String(line[message.upperBound...])
        }
        #expect(Array(theirs.suffix(2)) == ours.all)
    }
}

import BPFPlatform
import BPFBenchmarks
import BPFCore
import BPFKernel
import BPFObject
import BPFTestSupport
import Foundation
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason
private let uprobeReason: String? =
    FileManager.default.fileExists(atPath: "/sys/bus/event_source/devices/uprobe/type")
    ? nil : "this kernel has no uprobe PMU (CONFIG_UPROBE_EVENTS)"
private let hasKprobes = FileManager.default.fileExists(atPath: "/sys/bus/event_source/devices/kprobe/type")

/// Counts entries and failed returns of a probed function and sums its first argument (x86-64's rdi).
private let source = """
    #include <linux/bpf.h>
    #include <asm/ptrace.h>
    #include <bpf/bpf_helpers.h>
    struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 3); __type(key, __u32); __type(value, __u64); } seen SEC(".maps");
    static void add(__u32 key, __u64 amount) {
        __u64 *slot = bpf_map_lookup_elem(&seen, &key);
        if (slot) __sync_fetch_and_add(slot, amount);
    }
    /* Only the test's own calls (pids that do not exist, so getsid fails): other code in this
       process (a spawned tool, say) may call getsid too. */
    SEC("uprobe") int on_entry(struct pt_regs *ctx) {
        if (ctx->rdi >= 900001 && ctx->rdi <= 900006) { add(0, 1); add(1, ctx->rdi); }
        return 0;
    }
    SEC("uretprobe") int on_return(struct pt_regs *ctx) { if ((long)ctx->rax == -1) add(2, 1); return 0; }
    SEC("kprobe/__x64_sys_getppid") int on_kernel_entry(struct pt_regs *ctx) { add(0, 1); return 0; }
    char LICENSE[] SEC("license") = "GPL";
    """

/// The path of the C library this process has mapped.
private func libcPath() -> String? {
    // Read to its end: with many libraries loaded (libpcap brings its own), Foundation's read of
    // this virtual file stops early.
    guard let maps = readTextFile("/proc/self/maps") else { return nil }
    return maps.split(separator: "\n").compactMap { line in line.split(separator: " ").last.map(String.init) }
        .first { $0.hasPrefix("/") && $0.contains("/libc.so") }
}

@Suite("Probes", .serialized)
struct ProbeTests {
    private func count(_ object: KernelObject, _ key: UInt8) throws -> UInt64 {
        let bytes = try #require(try object.map(named: "seen")?.lookup([key, 0, 0, 0]))
        return bytes.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * $1.offset) }
    }

    @Test(
        "a uprobe and a uretprobe on a libc function see each call of this process, with its argument; detached, they see none",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: uprobeReason == nil, Comment(rawValue: uprobeReason ?? "")),
        arguments: [PerfEventAttachment.link, .ioctl])
    func uprobes(mode: PerfEventAttachment) throws {
        #if arch(x86_64)
        let libc = try #require(libcPath(), "libc is not mapped from a file")
        let object = try KernelObject(try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "probes.bpf.c")))
        do {
            let entry = try ProbeLink(try object.load(program: "on_entry"), binary: libc, symbol: "getsid", process: getpid(), using: mode)
            let exit = try ProbeLink(try object.load(program: "on_return"), binary: libc, symbol: "getsid", isReturn: true, process: getpid(), using: mode)
            #expect((entry.linkFD != nil) == (mode == .link) && (exit.linkFD != nil) == (mode == .link))
            // Process ids that do not exist: getsid fails, but it runs.
            for pid in 900_001...900_005 as ClosedRange<Int32> { _ = getsid(pid) }
            withExtendedLifetime((entry, exit)) {}
        }
        #expect(try count(object, 0) == 5)
        #expect(try count(object, 1) == 4_500_015)
        #expect(try count(object, 2) == 5)
        _ = getsid(900_006)  // the links are gone
        #expect(try count(object, 0) == 5)

        let error = try #require(throws: KernelError.self) {
            try ProbeLink(try object.load(program: "on_entry"), binary: libc, symbol: "no_such_function_here")
        }
        #expect(error.description.contains("no function named no_such_function_here"))
        #else
        withKnownIssue("the probe program reads x86-64 registers") { Issue.record("not x86-64") }
        #endif
    }

    @Test(
        "a kprobe sees a system call; without a kprobe PMU the error says so",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func kprobes() throws {
        let object = try KernelObject(try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "probes.bpf.c")))
        let program = try object.load(program: "on_kernel_entry")
        guard hasKprobes else {
            let error = try #require(throws: KernelError.self) { try ProbeLink(program, kernelFunction: "__x64_sys_getppid") }
            #expect(error.description.contains("no kprobe PMU"))
            return
        }
        let link = try ProbeLink(program, kernelFunction: "__x64_sys_getppid")
        for _ in 0..<3 { _ = getppid() }
        withExtendedLifetime(link) {}
        #expect(try count(object, 0) >= 3)
    }

    /// Uprobe targets are host binaries the user names: corrupt ones get an error, never a crash.
    @Test("absurd and mutated binaries never crash the uprobe symbol lookup")
    func malformedBinaries() throws {
        let libc = try #require(libcPath(), "libc is not mapped from a file")
        let valid = try #require(readFile(libc))
        let offset = try HostSymbols.fileOffset(of: "getsid", inELF: valid)
        #expect(offset > 0 && offset < UInt64(valid.count))
        let table = Int(littleEndianValue(valid[0x28..<0x30]))
        let entrySize = Int(littleEndianValue(valid[0x3a..<0x3c])), count = Int(littleEndianValue(valid[0x3c..<0x3e]))
        // Absurd offsets and sizes: the section table's, and every section's offset or size.
        var absurd: [[UInt8]] = [valid]
        absurd[0].replaceSubrange(0x28..<0x30, with: [UInt8](repeating: 0xff, count: 8))
        for field in [0x18, 0x20] {
            var bytes = valid
            for i in 0..<count {
                bytes.replaceSubrange(
                    (table + i * entrySize + field)..<(table + i * entrySize + field + 8), with: [0xf0] + [UInt8](repeating: 0xff, count: 6) + [0x7f])
            }
            absurd.append(bytes)
        }
        for bytes in absurd {
            #expect(throws: HostSymbols.Failure.self) { try HostSymbols.fileOffset(of: "getsid", inELF: bytes) }
        }
        var rng = SplitMix64(state: 11)
        var failures = 0
        for _ in 0..<400 {
            var bytes = valid
            for _ in 0...rng.below(6) {
                // The header, the section table, or anywhere.
                let at = [rng.below(64), table + rng.below(max(valid.count - table, 1)), rng.below(valid.count)][rng.below(3)]
                bytes[at] = UInt8(truncatingIfNeeded: rng.next())
            }
            if rng.below(5) == 0 { bytes = Array(bytes.prefix(rng.below(bytes.count))) }
            do { _ = try HostSymbols.fileOffset(of: "getsid", inELF: bytes) } catch {
                failures += 1
                #expect(!error.message.isEmpty)
            }
        }
        #expect(failures > 20)
    }
}

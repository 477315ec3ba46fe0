import BPFBenchmarks
import BPFKernel
import BPFObject
import BPFPlatform
import BPFRuntime
import BPFTestSupport
import SwiftBPFProbes
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason

/// libbpf's USDT conventions, unchanged: counts hits and sums the two arguments.
private func usdtCounter(section: String) -> String {
    """
    #include <linux/bpf.h>
    #include <linux/ptrace.h>
    #include <stdbool.h>
    #include <bpf/bpf_helpers.h>
    #include <bpf/usdt.bpf.h>
    struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 2); __type(key, __u32); __type(value, __u64); } totals SEC(".maps");
    SEC("\(section)") int BPF_USDT(on_bench, long a, long b) {
        __u32 hits = 0, sum = 1;
        __u64 *h = bpf_map_lookup_elem(&totals, &hits), *s = bpf_map_lookup_elem(&totals, &sum);
        if (h) __sync_fetch_and_add(h, 1);
        if (s) __sync_fetch_and_add(s, a + b + bpf_usdt_cookie(ctx));
        return 0;
    }
    char LICENSE[] SEC("license") = "GPL";
    """
}

/// This test process's executable, where SwiftBPFProbes put the swiftbpf:bench probe.
private let executable = currentExecutable ?? ""

private func totals(_ lookup: ([UInt8]) throws -> [UInt8]?) throws -> (hits: UInt64, sum: UInt64) {
    func value(_ key: UInt8) throws -> UInt64 { try lookup([key, 0, 0, 0]).map(littleEndianValue) ?? 0 }
    return (try value(0), try value(1))
}

@Suite("USDT probes: one site, both backends", .serialized)
struct USDTTests {
    @Test("the probe's note is read: its address, semaphore and argument locations")
    func notes() throws {
        let bytes = try #require(readFile(executable))
        let probes = try USDTProbe.all(inELF: bytes).filter { $0.provider == "swiftbpf" && $0.name == "bench" }
        try #require(probes.count == 1, "\(probes)")
        #expect(probes[0].semaphoreFileOffset != nil)
        #expect(probes[0].arguments.count == 2)
        #expect(probes[0].arguments.allSatisfy { $0.size == 8 })
    }

    @Test(
        "a usdt link replaced 300 times in user space reuses its argument specification (the map holds 256)",
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func specificationsReused() throws {
        let bytes = try BPFCompiler.compile(text: usdtCounter(section: "usdt"), name: "usdt-reuse.bpf.c")
        let runtime = UserspaceRuntime()
        let hook = try runtime.declareHook("app:reused", arguments: [.value, .value])
        let object = try UserspaceObject(ObjectFile(bytes: bytes))
        let program = try object.load(program: "on_bench")
        let link = try runtime.attach(program, to: hook, cookie: 5)
        for _ in 0..<300 { try link.update(program: program) }
        hook.fire(2, 3)
        let counted = try totals { try object.map(named: "totals")?.lookup($0) }
        #expect(counted.hits == 1 && counted.sum == 2 + 3 + 5)
        // A different cookie is a different specification.
        let other = try runtime.attach(program, to: hook, cookie: 6)
        hook.fire(0, 0)
        #expect(try totals { try object.map(named: "totals")?.lookup($0) }.sum == 10 + 5 + 6)
        withExtendedLifetime(other) {}
    }

    @Test(
        "the kernel's uprobe and the userspace runtime count the same hits and arguments at the same probe site",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func sameCountsOnBothBackends() throws {
        let site = try #require(swiftbpf_bench_probe_site())
        let bytes = try BPFCompiler.compile(text: usdtCounter(section: "usdt/\(executable):swiftbpf:bench"), name: "usdt.bpf.c")
        let runtime = UserspaceRuntime()
        let hook = try runtime.declareProbe(site, arguments: [.value, .value])
        #expect(site.pointee.semaphore.pointee == 0)

        let userspace = try UserspaceObject(ObjectFile(bytes: bytes))
        var inProcess: HookLink? = try runtime.attach(try userspace.load(program: "on_bench"), cookie: 1000)
        let kernel = try KernelObject(try ObjectFile(bytes: bytes))
        var uprobe: (any KernelLink)? = try kernel.load(program: "on_bench").attach()  // by section: usdt/BINARY:swiftbpf:bench
        #expect(uprobe?.summary.hasPrefix("usdt ") == true)
        #expect(site.pointee.semaphore.pointee == 2, "the kernel and the runtime each raise the semaphore")

        for i in 1...1000 { swiftbpf_bench_probe(UInt64(i), UInt64(3 * i)) }
        let ours = try totals { try userspace.map(named: "totals")?.lookup($0) }
        let theirs = try totals { try kernel.map(named: "totals")?.lookup($0) }
        #expect(ours.hits == 1000)
        #expect(ours.sum == 4 * 500_500 + 1000 * 1000)  // each hit adds the link's cookie
        #expect(theirs.hits == 1000)
        #expect(theirs.sum == 4 * 500_500)

        inProcess = nil
        uprobe = nil
        #expect(site.pointee.semaphore.pointee == 0)
        #expect(!hook.isAttached)
        swiftbpf_bench_probe(1, 1)
        #expect(try totals { try userspace.map(named: "totals")?.lookup($0) }.hits == 1000)
        #expect(try totals { try kernel.map(named: "totals")?.lookup($0) }.hits == 1000)
        withExtendedLifetime((inProcess, uprobe)) {}
    }
}

import BPFBenchmarks
import SwiftBPF
import Testing

private let compilerReason = BPFCompiler.unavailableReason

private let source = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 2); __type(key, __u32); __type(value, __u64); } seen SEC(".maps");
    static __always_inline int bump(__u32 slot) {
        __u64 *n = bpf_map_lookup_elem(&seen, &slot);
        if (n) __sync_fetch_and_add(n, 1);
        return 0;
    }
    SEC("raw_tp/app:event") int one(void *ctx) { return bump(0); }
    SEC("raw_tp/app:event") int two(void *ctx) { return bump(1); }
    char LICENSE[] SEC("license") = "GPL";
    """

@Suite("Links through the front, on the userspace backend")
struct HookLinkFrontTests {
    @Test(
        "attach by section to a declared hook, replace the program, pin the link", .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func attachUpdatePin() throws {
        let runtime = UserspaceRuntime()
        let hook = try runtime.declareHook("app:event", arguments: [.value])
        let object = try OpenedObject(bytes: try BPFCompiler.compile(text: source, name: "front-hook.bpf.c")).load(
            on: .userspace, options: LoadOptions(runtime: runtime))
        let seen = try object.map(named: "seen")
        func count(_ slot: UInt8) throws -> UInt64 { try seen.lookup([slot, 0, 0, 0]).map { $0.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } } ?? 0 }

        var link: (any BPFLink)? = try object.program(named: "one").attach()
        #expect(link?.summary == "hook app:event")
        hook.fire(0)
        try link?.update(program: try object.program(named: "two"))
        hook.fire(0)
        hook.fire(0)
        #expect(try count(0) == 1 && count(1) == 2)
        #expect(try link?.persist(at: "/app/link") == .pinned("/app/link"))
        link = nil
        hook.fire(0)
        #expect(try count(1) == 3, "the pinned link stopped running its program")
        try runtime.unpin(at: "/app/link")
        hook.fire(0)
        #expect(try count(1) == 3)
        #expect(throws: BPFError.self) {
            try OpenedObject(bytes: try BPFCompiler.compile(text: source, name: "front-hook2.bpf.c")).load(on: .kernel, options: LoadOptions(runtime: runtime))
        }
    }
}

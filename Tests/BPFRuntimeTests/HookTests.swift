import BPFBenchmarks
import BPFCore
import BPFMaps
import BPFObject
import BPFPlatform
import BPFRuntime
import BPFTestSupport
import BPFVM
import Synchronization
import Testing

private let compilerReason = BPFCompiler.unavailableReason

/// Raw tracepoint programs on hook `net:request`: each counts its runs (atomically, as threads
/// fire at once) in its own slot of `counts`, and adds the first argument to `sums`.
private let counters = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } counts SEC(".maps");
    struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } sums SEC(".maps");
    struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } plain SEC(".maps");
    struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 20); } ring SEC(".maps");
    static __always_inline int count(__u32 slot, __u64 value) {
        __u64 *c = bpf_map_lookup_elem(&counts, &slot), *s = bpf_map_lookup_elem(&sums, &slot);
        if (c) __sync_fetch_and_add(c, 1);
        if (s) __sync_fetch_and_add(s, value);
        return 1;
    }
    SEC("raw_tp/net:request") int first(struct bpf_raw_tracepoint_args *ctx) { return count(0, ctx->args[0]); }
    SEC("raw_tp/net:request") int second(struct bpf_raw_tracepoint_args *ctx) { return count(1, ctx->args[0]); }
    SEC("raw_tp/net:request") int third(struct bpf_raw_tracepoint_args *ctx) { count(2, ctx->args[0]); return 0; }
    /* Not atomic: only a slot of its own per running thread keeps every increment. */
    SEC("raw_tp/net:request") int per_cpu(struct bpf_raw_tracepoint_args *ctx) {
        __u32 zero = 0;
        __u64 *v = bpf_map_lookup_elem(&plain, &zero);
        if (v) *v += 1;
        return 1;
    }
    /* One record a firing: the first argument. */
    SEC("raw_tp/net:request") int records(struct bpf_raw_tracepoint_args *ctx) {
        __u64 value = ctx->args[0];
        bpf_ringbuf_output(&ring, &value, sizeof(value), 0);
        return 1;
    }
    /* Prints, then counts in slot 2: the host's trace output runs in the middle of the run. */
    SEC("raw_tp/net:request") int prints(struct bpf_raw_tracepoint_args *ctx) {
        bpf_printk("run %lu", ctx->args[0]);
        return count(2, 1);
    }
    /* Copies the string argument 1 points to (lent by the host) into `sums` slot 3, as bytes. */
    SEC("raw_tp/net:request") int reads(struct bpf_raw_tracepoint_args *ctx) {
        char text[8] = {};
        long n = bpf_probe_read_user_str(text, sizeof(text), (void *)ctx->args[1]);
        __u32 slot = 3;
        __u64 *s = bpf_map_lookup_elem(&sums, &slot);
        if (s) __builtin_memcpy(s, text, 8);
        return n;
    }
    char LICENSE[] SEC("license") = "GPL";
    """

private func u64(_ map: BPFMap?, _ index: UInt32) throws -> UInt64 {
    let bytes = try #require(try map?.lookup(withUnsafeBytes(of: index.littleEndian, Array.init)))
    return littleEndianValue(bytes)
}

@Suite("Hooks and links in the userspace runtime", .serialized, .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
struct HookTests {
    let object: UserspaceObject

    init() throws {
        object = try UserspaceObject(ObjectFile(bytes: try BPFCompiler.compile(text: counters, name: "hooks.bpf.c")))
    }

    @Test("programs attach by section, run in order on every firing with the hook's arguments, and stop when the link goes")
    func attachFireDetach() throws {
        let runtime = UserspaceRuntime()
        let hook = try runtime.declareHook("net:request", arguments: [.value, .value], results: .everyAllows)
        #expect(hook.fire(7) == 1)  // nothing attached: the rule's empty result
        var first: HookLink? = try runtime.attach(try object.load(program: "first"))
        let third = try runtime.attach(try object.load(program: "third"))
        #expect(hook.programs.map(\.name) == ["first", "third"])
        for i in 1...10 { #expect(hook.fire(UInt64(i)) == 0) }  // third refuses
        #expect(try u64(object.map(named: "counts"), 0) == 10)
        #expect(try u64(object.map(named: "sums"), 0) == 55)
        #expect(try u64(object.map(named: "counts"), 2) == 10)
        first = nil
        #expect(first == nil)
        hook.fire(100)
        #expect(try u64(object.map(named: "counts"), 0) == 10)
        #expect(try u64(object.map(named: "counts"), 2) == 11)
        third.detach()
        #expect(!hook.isAttached)
        #expect(throws: RuntimeError.self) { try runtime.declareHook("net:request", arguments: []) }
        let tp = try UserspaceObject(
            ObjectFile(bytes: try BPFCompiler.compile(text: counters.replacingOccurrences(of: "raw_tp/net:request", with: "raw_tp/other"), name: "other.bpf.c"))
        )
        #expect(throws: RuntimeError.self) { try runtime.attach(try tp.load(program: "first")) }
    }

    @Test("the result rules: every program must allow; the first that decides")
    func resultRules() throws {
        let runtime = UserspaceRuntime()
        let all = try runtime.declareHook("all", arguments: [.value], results: .everyAllows)
        let decide = try runtime.declareHook("decide", arguments: [.value], results: .firstDecision(passing: 1))
        let links = try ["first", "third", "second"].flatMap { name in
            [try runtime.attach(try object.load(program: name), to: all), try runtime.attach(try object.load(program: name), to: decide)]
        }
        #expect(all.fire(1) == 0)
        #expect(decide.fire(1) == 0)  // third returned 0: second never ran
        #expect(try u64(object.map(named: "counts"), 1) == 1)  // from `all` only
        links[2].detach()
        links[3].detach()  // third gone from both
        #expect(all.fire(1) == 1)
        #expect(decide.fire(1) == 1)
        #expect(try u64(object.map(named: "counts"), 1) == 3)
    }

    @Test("attach, detach and atomic replace while 4 threads fire: every firing runs exactly one of the replaced link's programs")
    func concurrentReplace() throws {
        let runtime = UserspaceRuntime()
        let hook = try runtime.declareHook("net:request", arguments: [.value])
        let first = try object.load(program: "first"), second = try object.load(program: "second"), third = try object.load(program: "third")
        let link = try runtime.attach(first, to: hook)
        let running = Atomic<Bool>(true), fired = Atomic<Int>(0)
        let threads = try (0..<4).map { _ in
            try #require(
                PlatformThread {
                    var n = 0
                    while running.load(ordering: .relaxed) {
                        hook.fire(1)
                        n += 1
                    }
                    fired.add(n, ordering: .relaxed)
                })
        }
        var replacements = 0
        for i in 0..<400 {
            try link.update(program: i % 2 == 0 ? second : first)
            replacements += 1
            let extra = try runtime.attach(third, to: hook)  // attach and detach a second link meanwhile
            extra.detach()
        }
        running.store(false, ordering: .relaxed)
        for thread in threads { thread.join() }
        let total = try u64(object.map(named: "counts"), 0) + u64(object.map(named: "counts"), 1)
        #expect(replacements == 400)
        #expect(fired.load(ordering: .relaxed) > 1000)
        #expect(Int(total) == fired.load(ordering: .relaxed))
        #expect(try u64(object.map(named: "counts"), 0) > 0 && u64(object.map(named: "counts"), 1) > 0)
    }

    @Test("per-CPU maps give each firing thread a slot of its own: non-atomic increments from 4 threads all count")
    func perCPUSlots() throws {
        let runtime = UserspaceRuntime()
        let hook = try runtime.declareHook("net:request", arguments: [.value])
        let link = try runtime.attach(try object.load(program: "per_cpu"))
        let threads = try (0..<4).map { _ in try #require(PlatformThread { for _ in 0..<50_000 { hook.fire(1) } }) }
        for thread in threads { thread.join() }
        let values = try #require(try (object.map(named: "plain") as? PerCPUMap)?.lookupAll([0, 0, 0, 0]))
        let sum = values.reduce(UInt64(0)) { $0 + littleEndianValue($1) }
        #expect(sum == 200_000)
        link.detach()
    }

    @Test("ring buffer records from 4 threads firing at once: every record arrives, whole")
    func concurrentRecords() throws {
        let runtime = UserspaceRuntime()
        let hook = try runtime.declareHook("net:request", arguments: [.value])
        let link = try runtime.attach(try object.load(program: "records"))
        let threads = try (0..<4).map { t in
            try #require(PlatformThread { for i in 0..<10_000 { hook.fire(UInt64(t) << 32 | UInt64(i)) } })
        }
        for thread in threads { thread.join() }
        let ring = try #require(object.map(named: "ring") as? RingBufferMap)
        var seen = Set<UInt64>()
        _ = ring.consume { seen.insert($0.load(as: UInt64.self)) }
        #expect(seen.count == 40_000)
        #expect(seen == Set((0..<4).flatMap { t in (0..<10_000).map { UInt64(t) << 32 | UInt64($0) } }))
        link.detach()
    }

    @Test("memory the host lends is readable for the call; anything else reads as -EFAULT")
    func lentMemory() throws {
        let runtime = UserspaceRuntime()
        let hook = try runtime.declareHook("net:request", arguments: [.value, .string], results: .firstDecision(passing: 0))
        let link = try runtime.attach(try object.load(program: "reads"))
        let r0 = "hello".withCString { hook.fire(0, UInt64(UInt(bitPattern: $0))) }
        #expect(r0 == 6)
        #expect(try u64(object.map(named: "sums"), 3) == "hello\0\0\0".utf8.reversed().reduce(0) { $0 << 8 | UInt64($1) })
        // The same pointer, declared as a value: not lent.
        let values = try runtime.declareHook("values", arguments: [.value, .value], results: .firstDecision(passing: 0))
        let other = try runtime.attach(try object.load(program: "reads"), to: values)
        let refused = "hello".withCString { values.fire(0, UInt64(UInt(bitPattern: $0))) }
        #expect(Int32(truncatingIfNeeded: refused) == -14)  // the program returns an int
        link.detach()
        other.detach()
    }

    @Test("hook links are listed, as bpftool lists links, with the program each runs now")
    func linksListed() throws {
        let runtime = UserspaceRuntime()
        let hook = try runtime.declareHook("net:request", arguments: [.value])
        let first = try object.load(program: "first"), second = try object.load(program: "second")
        let link = try runtime.attach(first, to: hook, cookie: 9)
        let listed = try #require(RuntimeInventory.links().first { $0.id == link.inventoryID })
        #expect(listed.hook == "net:request" && listed.programID == first.id && listed.cookie == 9)
        try link.update(program: second)
        #expect(RuntimeInventory.links().first { $0.id == link.inventoryID }?.programID == second.id)
        let path = "/tmp/swiftbpf-links-\(getpid()).sock"
        let endpoint = try DebugEndpoint(path: path)
        defer { endpoint.close() }
        #expect(try DebugEndpoint.request("link list", at: path).contains("\(link.inventoryID): hook  prog \(second.id)\n\thook net:request  cookie 9"))
        #expect(
            try DebugEndpoint.request("link list -j", at: path).contains(
                "{\"id\":\(link.inventoryID),\"type\":\"hook\",\"prog_id\":\(second.id),\"hook\":\"net:request\",\"cookie\":9}"))
        link.detach()
        #expect(!RuntimeInventory.links().contains { $0.id == link.inventoryID })
    }

    @Test("a hook fired again from inside its own program's run on the same thread is skipped, as the kernel skips recursion")
    func recursionSkipped() throws {
        let runtime = UserspaceRuntime()
        let hook = try runtime.declareHook("net:request", arguments: [.value], results: .firstDecision(passing: 7))
        let program = try object.load(program: "prints")
        let inner = Mutex<[UInt64]>([])
        program.traceOutput = { _ in inner.withLock { $0.append(hook.fire(2)) } }
        let link = try runtime.attach(program, to: hook)
        let before = try u64(object.map(named: "counts"), 2)
        #expect(hook.fire(1) == 1)
        #expect(inner.withLock { $0 } == [7], "the nested firing ran its programs")
        #expect(try u64(object.map(named: "counts"), 2) == before + 1)
        link.detach()
    }

    @Test("an object's maps and code are freed when its last program, link or pin goes, and not before")
    func referenceCountedUnload() throws {
        let runtime = UserspaceRuntime()
        let hook = try runtime.declareHook("net:request", arguments: [.value])
        weak var weakObject: UserspaceObject?
        weak var weakMap: BPFMap?
        weak var weakLink: HookLink?
        do {
            let object = try UserspaceObject(ObjectFile(bytes: try BPFCompiler.compile(text: counters, name: "unload.bpf.c")))
            weakObject = object
            weakMap = object.map(named: "counts")
            let link = try runtime.attach(try object.load(program: "first"), to: hook)
            weakLink = link
            try runtime.pin(.link(link), at: "/links/first")
        }
        // Only the pin holds the link; the link holds the program, which holds the object.
        #expect(weakLink != nil && weakObject != nil && weakMap != nil)
        for _ in 0..<5 { hook.fire(1) }
        #expect(try u64(weakMap, 0) == 5)
        #expect(throws: RuntimeError.self) { try runtime.pin(.link(weakLink!), at: "/links/first") }
        try runtime.unpin(at: "/links/first")
        #expect(weakLink == nil)
        #expect(weakObject == nil)
        #expect(weakMap == nil)
        #expect(!hook.isAttached)
        #expect(throws: RuntimeError.self) { try runtime.unpin(at: "/links/first") }
    }

    @Test("statistics count runs and their time only while a token lives, in the inventory too")
    func statistics() throws {
        let runtime = UserspaceRuntime()
        let hook = try runtime.declareHook("net:request", arguments: [.value])
        let program = try object.load(program: "second")
        let link = try runtime.attach(program, to: hook)
        for _ in 0..<10 { hook.fire(1) }
        #expect(program.statistics.runCount == 0)
        do {
            let token = StatisticsToken()
            for _ in 0..<25 { hook.fire(1) }
            withExtendedLifetime(token) {}
        }
        for _ in 0..<10 { hook.fire(1) }
        #expect(program.statistics.runCount == 25)
        #expect(program.statistics.runNanoseconds > 0)
        let listed = try #require(RuntimeInventory.programs().first { $0.id == program.id })
        #expect(listed.runCount == 25)
        #expect(RuntimeInventory.text(listed).contains("run_cnt 25"))

        // Turned on from outside, through the debug endpoint (`swiftbpf prog stats on --runtime`).
        let path = "/tmp/swiftbpf-stats-\(getpid()).sock"
        let endpoint = try DebugEndpoint(path: path)
        defer { endpoint.close() }
        #expect(try DebugEndpoint.request("stats on", at: path) == "statistics on\n")
        for _ in 0..<5 { hook.fire(1) }
        #expect(try DebugEndpoint.request("stats off", at: path) == "statistics off\n")
        for _ in 0..<5 { hook.fire(1) }
        #expect(program.statistics.runCount == 30)
        #expect(try DebugEndpoint.request("prog list", at: path).contains("run_cnt 30"))
        link.detach()
    }
}

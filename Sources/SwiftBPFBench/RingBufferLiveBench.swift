import BPFBenchmarks
import BPFCore
import BPFKernel
import BPFObject
import BPFPlatform

extension Benchmark {
    /// Ring buffer consumers against a live producer: a program on the `sys_enter_getppid`
    /// tracepoint sends a 16-byte record for each of `events` getppid calls this process makes on
    /// CPU 0, while a consumer on CPU 1 waits in epoll and drains — ours (``EventPoller`` over
    /// ``KernelRingBuffer``, on a thread of this process) and libbpf's `ring_buffer__poll` (in
    /// the C consumer, as a process). The same producer load for both; reported: records
    /// delivered and dropped, the delivery rate, and the consumer's CPU time per record.
    func benchRingBufferLive(events: Int) throws {
        guard BPFCompiler.unavailableReason == nil, sysconf(Int32(_SC_NPROCESSORS_ONLN)) >= 2 else {
            output("ring buffer under load: skipped: needs clang and two CPUs")
            return
        }
        let producer = """
            #include <linux/bpf.h>
            #include <bpf/bpf_helpers.h>
            struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 22); } events SEC(".maps");
            const volatile __u32 producer_tgid = \(getpid());
            struct { __u64 sequence, dropped, ending; } state;  /* .bss, in this order */
            SEC("tp/syscalls/sys_enter_getppid") int produce(void *ctx) {
                if (bpf_get_current_pid_tgid() >> 32 != producer_tgid) return 0;
                __u64 event[2] = { ++state.sequence, state.ending };
                if (bpf_ringbuf_output(&events, event, sizeof(event), 0) != 0) state.dropped++;
                return 0;
            }
            char LICENSE[] SEC("license") = "GPL";
            """
        let object = try KernelObject(try ObjectFile(bytes: try BPFCompiler.compile(text: producer, name: "ringbuf_live.bpf.c")))
        let link = try TracepointLink(try object.load(), category: "syscalls", name: "sys_enter_getppid")
        guard let map = object.maps.first(where: { $0.definition.type == .ringbuf }), let bss = object.map(named: ".bss") else {
            throw BenchmarkError.failed("the producer has no ring buffer or .bss")
        }

        /// The getppid calls, then one more with `ending` set (repeated until it is not dropped);
        /// returns the producer's ns per call and the records dropped.
        func produce() throws -> (nanoseconds: Double, dropped: UInt64) {
            func counters() throws -> [UInt8] { try bss.lookup([0, 0, 0, 0]) ?? [] }
            func dropped() throws -> UInt64 { littleEndian(Array(try counters().dropFirst(8))) }
            KernelSupport.bindThread(toCPU: 0)
            defer { KernelSupport.bindThread(toCPU: nil) }
            try bss.update([0, 0, 0, 0], [UInt8](repeating: 0, count: 24))
            let start = monotonicNanoseconds()
            for _ in 0..<events { _ = getppid() }
            let elapsed = Double(monotonicNanoseconds() - start) / Double(events)
            try bss.update([0, 0, 0, 0], Array(try counters().prefix(16)) + [1, 0, 0, 0, 0, 0, 0, 0])
            for _ in 0..<1000 {
                let before = try dropped()
                _ = getppid()
                if try dropped() == before { break }  // the last record was sent
            }
            return (elapsed, try dropped())
        }

        func describe(_ name: String, _ r: LiveResult) -> String {
            "\(name): \(r.records - 1) delivered, \(r.dropped) dropped, \(format2(r.recordsPerSecond / 1e6)) M records/s, "
                + "consumer CPU \(format1(r.cpuPerRecord)) ns/record, producer \(format1(r.producer)) ns/call"
        }

        // Ours: a thread on CPU 1 polling the ring through epoll.
        let ring = try KernelRingBuffer(map)
        func measureOurs() throws -> LiveResult {
            final class Consumer: @unchecked Sendable {
                /// Records, the first's and the last's time: written by the handler alone.
                let counts = UnsafeMutablePointer<UInt64>.allocate(capacity: 3)
                var cpu: UInt64 = 0
                let ready = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
                init() {
                    counts.initialize(repeating: 0, count: 3)
                    sem_init(ready, 0, 0)
                }
                deinit {
                    counts.deallocate()
                    sem_destroy(ready)
                    ready.deallocate()
                }
                var ended: Bool { counts[2] != 0 }
            }
            let consumer = Consumer(), counts = consumer.counts
            nonisolated(unsafe) let poller = try EventPoller()
            try poller.add(ring) { bytes in
                if counts[0] == 0 { counts[1] = monotonicNanoseconds() }
                counts[0] += 1
                if bytes.load(fromByteOffset: 8, as: UInt64.self) == 1 { counts[2] = monotonicNanoseconds() }
            }
            guard
                let thread = PlatformThread({
                    KernelSupport.bindThread(toCPU: 1)
                    sem_post(consumer.ready)
                    let cpu = threadCPUNanoseconds()
                    var idleSince = monotonicNanoseconds()
                    while !consumer.ended, monotonicNanoseconds() - idleSince < 5_000_000_000 {
                        if (try? poller.poll(milliseconds: 1000)) ?? 0 > 0 { idleSince = monotonicNanoseconds() }
                    }
                    consumer.cpu = threadCPUNanoseconds() - cpu
                })
            else { throw BenchmarkError.failed("cannot start a thread") }
            while sem_wait(consumer.ready) != 0, errno == EINTR {}
            let produced = try produce()
            thread.join()
            guard consumer.ended else { throw BenchmarkError.failed("ring buffer under load: our consumer did not see the last record") }
            return LiveResult(
                records: counts[0], nanoseconds: counts[2] - counts[1], cpuNanoseconds: consumer.cpu,
                dropped: produced.dropped, producer: produced.nanoseconds)
        }

        // libbpf's: the C consumer as a process on CPU 1, on the ring pinned for it.
        let binary = try libbpfPeer("libbpf_ringbuf_drain", source: LibbpfPeers.ringbufDrain, output: output)
        defer { if let binary { removeTree(binary) } }
        let pin = Pinning.root + "/swiftbpf-bench-ringbuf-live-\(getpid())"
        if binary != nil { try map.pin(at: pin) }
        defer { unlink(pin) }
        func measureLibbpf(_ binary: String) throws -> LiveResult {
            let process = try ChildProcess(binary, [pin, "--live", "1"], captureErrors: false)
            let started = process.readOutput { $0.contains("\n") }
            guard started.hasPrefix("ready") else { throw BenchmarkError.failed("the libbpf consumer did not start: '\(started)'") }
            let produced = try produce()
            let (status, text, _) = process.finish()
            let fields = text.split(whereSeparator: \.isWhitespace).compactMap { UInt64($0) }
            guard status == 0, fields.count == 4 else { throw BenchmarkError.failed("the libbpf consumer reported '\(text)'") }
            return LiveResult(records: fields[0], nanoseconds: fields[1], cpuNanoseconds: fields[3], dropped: produced.dropped, producer: produced.nanoseconds)
        }

        // Rounds alternate between the two, so drift on the machine falls on both alike; the
        // round with the least consumer CPU per record is each one's figure.
        var ours: LiveResult? = nil, theirs: LiveResult? = nil
        for _ in 0..<rounds {
            ours = LiveResult.better(ours, try measureOurs())
            if let binary { theirs = LiveResult.better(theirs, try measureLibbpf(binary)) }
        }
        output("ring buffer under load, \(events) getppid calls traced, producer on CPU 0, consumer on CPU 1 (best of \(rounds)):")
        if let ours { output("  " + describe("ours (EventPoller)", ours)) }
        if let theirs { output("  " + describe("libbpf ring_buffer__poll", theirs)) }
        if let ours, let theirs {
            output(
                "  consumer CPU per record ours/libbpf \(format2(ours.cpuPerRecord / theirs.cpuPerRecord))x, "
                    + "delivery rate ours/libbpf \(format2(ours.recordsPerSecond / theirs.recordsPerSecond))x")
        }
        withExtendedLifetime(link) {}
    }
}

/// One consumer's run: records seen (with the last), nanoseconds from the first to the last,
/// the consumer's CPU time, and the producer's figures for that run.
private struct LiveResult {
    var records: UInt64, nanoseconds: UInt64, cpuNanoseconds: UInt64, dropped: UInt64, producer: Double
    var cpuPerRecord: Double { Double(cpuNanoseconds) / Double(max(records, 1)) }
    var recordsPerSecond: Double { Double(records) * 1e9 / Double(max(nanoseconds, 1)) }

    /// Of two runs, the one with less consumer CPU per record.
    static func better(_ a: LiveResult?, _ b: LiveResult) -> LiveResult {
        guard let a else { return b }
        return b.cpuPerRecord < a.cpuPerRecord ? b : a
    }
}

private func threadCPUNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

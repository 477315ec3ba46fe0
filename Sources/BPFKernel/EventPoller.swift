import CBPFShims
import BPFPlatform

/// Waits on several ring buffers and perf buffers at once through one epoll descriptor, and
/// drains the ones that are ready, each into its own handler (libbpf's `ring_buffer__add` and
/// `ring_buffer__poll`, across both kinds of buffer).
public final class EventPoller {
    private enum Source {
        case ring(KernelRingBuffer, limit: Int, (UnsafeRawBufferPointer) -> Void)
        case perf(KernelPerfBuffer, ring: Int, (_ cpu: Int, UnsafeRawBufferPointer) -> Void)
    }

    private let epoll: Descriptor
    private var epollFD: Int32 { epoll.rawValue }
    private var sources: [Source] = []
    private let ready = UnsafeMutablePointer<UInt64>.allocate(capacity: 64)

    public init() throws(KernelError) {
        let fd = cbpf_epoll_create()
        guard fd >= 0 else { throw KernelError(command: "epoll_create1", errno: -fd) }
        epoll = Descriptor(adopting: fd)
    }

    deinit {

        ready.deallocate()
    }

    /// Adds a ring buffer, drained at most `limit` records per wake-up into `handler`.
    public func add(_ ring: KernelRingBuffer, limit: Int = .max, _ handler: @escaping (UnsafeRawBufferPointer) -> Void) throws(KernelError) {
        try watch(ring.fd, as: .ring(ring, limit: limit, handler))
    }

    /// Adds every CPU's ring of a perf buffer; `handler` gets each record with its CPU.
    public func add(_ perf: KernelPerfBuffer, _ handler: @escaping (_ cpu: Int, UnsafeRawBufferPointer) -> Void) throws(KernelError) {
        for (index, ring) in perf.descriptors.enumerated() { try watch(ring.fd, as: .perf(perf, ring: index, handler)) }
    }

    private func watch(_ fd: Int32, as source: Source) throws(KernelError) {
        let r = cbpf_epoll_add(epollFD, fd, UInt64(sources.count))
        guard r == 0 else { throw KernelError(command: "epoll_ctl (EPOLL_CTL_ADD)", errno: -r) }
        sources.append(source)
    }

    /// Waits up to `milliseconds` (-1: until something arrives) for any source to have records,
    /// then drains those that do. Returns the number of records handled (0 on timeout).
    @discardableResult
    public func poll(milliseconds: Int32) throws(KernelError) -> Int {
        let n = cbpf_epoll_wait(epollFD, ready, 64, milliseconds)
        guard n >= 0 else { throw KernelError(command: "epoll_wait", errno: -n) }
        var count = 0
        for i in 0..<Int(n) { count += drain(sources[Int(ready[i])]) }
        return count
    }

    /// Drains every source without waiting. Returns the number of records handled.
    @discardableResult
    public func consume() -> Int {
        sources.reduce(0) { $0 + drain($1) }
    }

    private func drain(_ source: Source) -> Int {
        switch source {
        case let .ring(ring, limit, handler): ring.consume(limit: limit, handler)
        case let .perf(perf, index, handler): perf.consume(ring: index, handler)
        }
    }
}

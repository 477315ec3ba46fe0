/// A thread of its own (not one of Swift concurrency's pool, which must not block or be bound to
/// a CPU), running a closure; ``join()`` waits for it.
package final class PlatformThread {
    private var thread: pthread_t?

    private final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// Starts `body` on a new thread; nil when the system refuses one.
    package init?(_ body: @escaping @Sendable () -> Void) {
        #if canImport(Glibc) || canImport(Musl)
        var thread = pthread_t()
        #else
        var thread: pthread_t?
        #endif
        let context = Unmanaged.passRetained(Box(body)).toOpaque()
        let result = pthread_create(
            &thread, nil,
            { context in
                Unmanaged<Box>.fromOpaque(context!).takeRetainedValue().body()
                return nil
            }, context)
        guard result == 0 else {
            Unmanaged<Box>.fromOpaque(context).release()
            return nil
        }
        self.thread = thread
    }

    /// Waits for the thread to finish (once).
    package func join() {
        guard let thread else { return }
        self.thread = nil
        pthread_join(thread, nil)
    }

    deinit { join() }
}

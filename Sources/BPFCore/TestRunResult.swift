/// The outcome of a test run (`BPF_PROG_TEST_RUN`): the same on both backends.
public struct TestRunResult: Sendable, Equatable {
    /// r0's low 32 bits, as the kernel reports it.
    public var returnValue: UInt32
    /// The packet (or data) after the last run.
    public var data: [UInt8]
    /// Mean nanoseconds per run, as the backend measured it (the kernel in whole nanoseconds).
    public var nanosecondsPerRun: Double
    /// Where the last run redirected the packet, when it did (userspace runtime only: the
    /// kernel's test run does not report it, so it is nil there).
    public var redirect: RedirectTarget?

    public init(returnValue: UInt32, data: [UInt8], nanosecondsPerRun: Double, redirect: RedirectTarget? = nil) {
        self.returnValue = returnValue
        self.data = data
        self.nanosecondsPerRun = nanosecondsPerRun
        self.redirect = redirect
    }
}

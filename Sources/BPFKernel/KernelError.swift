/// A failed `bpf(2)` call: the command, the errno, and the verifier's log when there is one.
public struct KernelError: Error, Sendable, CustomStringConvertible {
    /// The `bpf(2)` command that failed (`BPF_PROG_LOAD`, …).
    public var command: String
    /// The errno the kernel returned.
    public var errno: Int32
    /// The verifier's log for a rejected program.
    public var log: String?

    public init(command: String, errno: Int32, log: String? = nil) {
        self.command = command
        self.errno = errno
        self.log = log
    }

    /// The errno's symbolic name where it is a common one.
    public var errnoName: String {
        [1: "EPERM", 2: "ENOENT", 7: "E2BIG", 9: "EBADF", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT",
         16: "EBUSY", 17: "EEXIST", 19: "ENODEV", 22: "EINVAL", 28: "ENOSPC", 38: "ENOSYS", 95: "EOPNOTSUPP", 524: "ENOTSUPP"][errno] ?? "errno \(errno)"
    }

    public var description: String {
        var text = "\(command) failed: \(errnoName)"
        if let log, !log.isEmpty {
            let lines = log.split(separator: "\n")
            text += "\n" + lines.suffix(12).joined(separator: "\n")
        }
        return text
    }
}

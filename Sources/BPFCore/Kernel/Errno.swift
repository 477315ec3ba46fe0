/// An error number as Linux numbers it, whatever the host: what `bpf(2)` answers, and what
/// helpers return negated to programs on both backends.
public struct Errno: RawRepresentable, Hashable, Sendable, Error, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let EPERM = Errno(rawValue: 1)
    public static let ENOENT = Errno(rawValue: 2)
    public static let ESRCH = Errno(rawValue: 3)
    public static let EINTR = Errno(rawValue: 4)
    public static let E2BIG = Errno(rawValue: 7)
    public static let EBADF = Errno(rawValue: 9)
    public static let EAGAIN = Errno(rawValue: 11)
    public static let ENOMEM = Errno(rawValue: 12)
    public static let EACCES = Errno(rawValue: 13)
    public static let EFAULT = Errno(rawValue: 14)
    public static let EBUSY = Errno(rawValue: 16)
    public static let EEXIST = Errno(rawValue: 17)
    public static let ENODEV = Errno(rawValue: 19)
    public static let ENOTDIR = Errno(rawValue: 20)
    public static let EINVAL = Errno(rawValue: 22)
    public static let ENOSPC = Errno(rawValue: 28)
    public static let ERANGE = Errno(rawValue: 34)
    public static let ENOSYS = Errno(rawValue: 38)
    public static let ELOOP = Errno(rawValue: 40)
    public static let EOPNOTSUPP = Errno(rawValue: 95)
    public static let ENOTSUPP = Errno(rawValue: 524)

    private static let names: [Int32: String] = [
        1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 7: "E2BIG", 9: "EBADF", 11: "EAGAIN", 12: "ENOMEM",
        13: "EACCES", 14: "EFAULT", 16: "EBUSY", 17: "EEXIST", 19: "ENODEV", 20: "ENOTDIR", 22: "EINVAL",
        28: "ENOSPC", 34: "ERANGE", 38: "ENOSYS", 40: "ELOOP", 95: "EOPNOTSUPP", 524: "ENOTSUPP",
    ]

    /// The symbolic name (`EINVAL`), or `errno N` for one this table does not name.
    public var description: String { Self.names[rawValue] ?? "errno \(rawValue)" }

    /// What a helper returns for this error: `-errno` as a 64-bit register value.
    public var helperResult: UInt64 { UInt64(bitPattern: Int64(-rawValue)) }
}

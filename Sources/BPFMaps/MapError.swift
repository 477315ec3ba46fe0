public import BPFCore

/// A map operation's failure: a case per kind, each with the errno the kernel returns for it
/// (to programs, negated, through helpers).
public enum MapError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No such key (`ENOENT`).
    case notFound(map: String)
    /// The key exists and `BPF_NOEXIST` was given (`EEXIST`).
    case exists(map: String)
    /// The map is full (`E2BIG`).
    case full(map: String)
    /// The operation or its arguments do not fit the map (`EINVAL`).
    case invalid(map: String, reason: String)
    /// The map is frozen: the host may no longer change it (`EPERM`).
    case frozen(map: String)
    /// The map cannot be created this large: `errno` is `E2BIG` or `ENOMEM`, as the kernel's.
    case tooLarge(map: String, reason: String, errno: Errno)

    /// The kernel's errno for this failure.
    public var errno: Errno {
        switch self {
        case .notFound: .ENOENT
        case .exists: .EEXIST
        case .full: .E2BIG
        case .invalid: .EINVAL
        case .frozen: .EPERM
        case let .tooLarge(_, _, errno): errno
        }
    }

    /// What a helper returns to the program: `-errno` as a 64-bit register value.
    public var helperResult: UInt64 { errno.helperResult }

    public var description: String {
        switch self {
        case let .notFound(map): "\(map): no such key (ENOENT)"
        case let .exists(map): "\(map): the key exists and BPF_NOEXIST was given (EEXIST)"
        case let .full(map): "\(map): the map is full (E2BIG)"
        case let .invalid(map, reason): "\(map): \(reason) (EINVAL)"
        case let .frozen(map): "\(map): the map is frozen (EPERM)"
        case let .tooLarge(map, reason, errno): "\(map): \(reason) (\(errno))"
        }
    }

    static func notFound(_ map: String) -> MapError { .notFound(map: map) }
    static func exists(_ map: String) -> MapError { .exists(map: map) }
    static func full(_ map: String) -> MapError { .full(map: map) }
    static func invalid(_ map: String, _ why: String) -> MapError { .invalid(map: map, reason: why) }
}

import BPFCore
/// A map operation's failure, carrying the negative errno the kernel returns to programs.
public struct MapError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kernel's errno for this failure (positive: `ENOENT` is 2).
    public var errno: Int32
    /// What happened.
    public var message: String

    public init(errno: Int32, _ message: String) {
        self.errno = errno
        self.message = message
    }

    /// What a helper returns to the program: `-errno` as a 64-bit register value.
    public var helperResult: UInt64 { UInt64(bitPattern: Int64(-errno)) }

    public var description: String { message }

    static func notFound(_ map: String) -> MapError { MapError(errno: 2, "\(map): no such key (ENOENT)") }
    static func exists(_ map: String) -> MapError { MapError(errno: 17, "\(map): the key exists and BPF_NOEXIST was given (EEXIST)") }
    static func full(_ map: String) -> MapError { MapError(errno: 7, "\(map): the map is full (E2BIG)") }
    static func invalid(_ map: String, _ why: String) -> MapError { MapError(errno: 22, "\(map): \(why) (EINVAL)") }
}

import BPFPlatform

/// A file descriptor owned by this object and closed exactly once, when it is released: every
/// map, program, BTF object, link, perf event and epoll instance the kernel backend opens.
package final class Descriptor: Sendable {
    /// The descriptor's number, for system calls; valid while this value lives.
    public let rawValue: Int32

    /// Takes ownership of `rawValue`, an open descriptor.
    public init(adopting rawValue: Int32) { self.rawValue = rawValue }

    deinit { close(rawValue) }
}

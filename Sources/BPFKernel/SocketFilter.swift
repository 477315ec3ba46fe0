import BPFPlatform

/// A socket filter program attached to a socket (`SO_ATTACH_BPF`): it sees each packet the
/// socket receives and returns how many of its bytes to keep (0 drops it). Releasing the value
/// detaches it (`SO_DETACH_BPF`); closing the socket does too.
public final class SocketFilterAttachment: KernelLink {
    /// The socket's descriptor (not owned: the caller keeps and closes it).
    public let socket: Int32
    public var summary: String { "socket \(socket)" }
    /// A socket option has no link.
    public var linkFD: Int32? { nil }

    /// Attaches `program` (a socket filter) to `socket`, replacing any filter it had.
    public init(_ program: KernelProgram, socket: Int32) throws(KernelError) {
        var fd = program.fd
        guard setsockopt(socket, SOL_SOCKET, 50 /* SO_ATTACH_BPF */, &fd, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw KernelError(command: "setsockopt SO_ATTACH_BPF (socket \(socket))", errno: errno)
        }
        self.socket = socket
    }

    deinit {
        var unused: Int32 = 0
        _ = setsockopt(socket, SOL_SOCKET, 27 /* SO_DETACH_BPF */, &unused, socklen_t(MemoryLayout<Int32>.size))
    }
}

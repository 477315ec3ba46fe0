import BPFCore
import CBPFShims
import BPFPlatform

/// What the `get_current_*` helpers report: by default the host process and thread, or a task
/// the embedder supplies (an event being replayed, a sandboxed tenant).
public struct TaskInfo: Sendable, Equatable {
    public var pid: UInt32
    public var tgid: UInt32
    public var uid: UInt32
    public var gid: UInt32
    /// The command name, at most 15 bytes.
    public var comm: String

    public init(pid: UInt32, tgid: UInt32, uid: UInt32, gid: UInt32, comm: String) {
        self.pid = pid
        self.tgid = tgid
        self.uid = uid
        self.gid = gid
        self.comm = String(comm.utf8.prefix(15))!
    }

    /// The calling process (its main thread as the pid).
    public static var current: TaskInfo {
        let pid = UInt32(getpid())
        var comm = "swiftbpf"
        #if os(Linux)
        comm = readFirstLine("/proc/self/comm") ?? comm
        #endif
        return TaskInfo(pid: pid, tgid: pid, uid: UInt32(getuid()), gid: UInt32(getgid()), comm: comm)
    }
}

/// `get_current_pid_tgid`, `get_current_uid_gid`, `get_current_comm`, and the probe reads,
/// which copy only from memory the embedder registered in ``HelperContext/readable``.
enum TaskHelpers {
    @inline(__always) static func context(_ raw: UnsafeMutableRawPointer) -> UnsafeMutablePointer<HelperContext> {
        HelperContext.at(raw)
    }

    static let pidTgid: HelperFunction = { _, _, _, _, _, c in
        let task = context(c).pointee.task
        return UInt64(task.tgid) << 32 | UInt64(task.pid)
    }

    static let uidGid: HelperFunction = { _, _, _, _, _, c in
        let task = context(c).pointee.task
        return UInt64(task.gid) << 32 | UInt64(task.uid)
    }

    /// `get_current_comm(buf, size)`: the name, NUL-padded to `size`.
    static let comm: HelperFunction = { buf, size, _, _, _, c in
        guard size > 0, let destination = UnsafeMutableRawPointer(bitPattern: UInt(buf)) else { return HelperResult.einval }
        destination.initializeMemory(as: UInt8.self, repeating: 0, count: Int(size))
        let name = Array(context(c).pointee.task.comm.utf8.prefix(Int(size) - 1))
        name.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return 0
    }

    /// The registered region holding `[address, address + size)`, if any.
    @inline(__always) static func readable(_ c: UnsafeMutableRawPointer, _ address: UInt64, _ size: Int) -> MemoryRegion? {
        context(c).pointee.readable.first { $0.contains(address, size) }
    }

    /// `probe_read_{user,kernel}(dst, size, src)`: zero-fills `dst` on failure, as the kernel does.
    static let probeRead: HelperFunction = { dst, size, src, _, _, c in
        guard let destination = UnsafeMutableRawPointer(bitPattern: UInt(dst)) else { return HelperResult.efault }
        guard readable(c, src, Int(size)) != nil, let source = UnsafeRawPointer(bitPattern: UInt(src)) else {
            destination.initializeMemory(as: UInt8.self, repeating: 0, count: Int(size))
            return HelperResult.efault
        }
        destination.copyMemory(from: source, byteCount: Int(size))
        return 0
    }

    /// `probe_read_{user,kernel}_str(dst, size, src)`: copies up to a NUL within `size - 1`
    /// bytes, always NUL-terminates, returns the length including the NUL.
    static let probeReadString: HelperFunction = { dst, size, src, _, _, c in
        guard size > 0, let destination = UnsafeMutableRawPointer(bitPattern: UInt(dst)) else { return HelperResult.einval }
        guard let region = readable(c, src, 1), let source = UnsafeRawPointer(bitPattern: UInt(src)) else {
            destination.storeBytes(of: 0, as: UInt8.self)
            return HelperResult.efault
        }
        let available = Int(region.start + region.length - src)
        var n = 0
        while n < Int(size) - 1, n < available {
            let byte = source.load(fromByteOffset: n, as: UInt8.self)
            if byte == 0 { break }
            destination.storeBytes(of: byte, toByteOffset: n, as: UInt8.self)
            n += 1
        }
        destination.storeBytes(of: 0, toByteOffset: n, as: UInt8.self)
        return UInt64(n + 1)
    }
}

extension HelperTable {
    /// Adds the task helpers (14, 15, 16) and the probe reads (4, 45, 112–115).
    public mutating func registerTaskHelpers() {
        register(.getCurrentPidTgid, TaskHelpers.pidTgid)
        register(.getCurrentUidGid, TaskHelpers.uidGid)
        register(.getCurrentComm, TaskHelpers.comm)
        for id: HelperID in [.probeRead, .probeReadUser, .probeReadKernel] { register(id, TaskHelpers.probeRead) }
        for id: HelperID in [.probeReadStr, .probeReadUserStr, .probeReadKernelStr] { register(id, TaskHelpers.probeReadString) }
    }

    /// Adds `bpf_get_attach_cookie` (174): the ``HelperContext/cookie`` of the run.
    public mutating func registerAttachCookie() {
        register(.getAttachCookie) { _, _, _, _, _, c in HelperContext.at(c).pointee.cookie }
    }
}

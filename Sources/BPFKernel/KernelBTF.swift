public import BTF
import CBPFShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Type information loaded into the running kernel (`BPF_BTF_LOAD`), owning its file
/// descriptor. Maps name their key and value types in it; programs their functions and lines.
public final class KernelBTF {
    /// The BTF object's file descriptor.
    public let fd: Int32

    /// Loads `btf` (an object's, fixed up for the kernel: ``BPFObject/ObjectFile/loadableBTF()``).
    /// - Throws: ``KernelError`` with the kernel's BTF log when it refuses the types.
    public init(_ btf: BTF) throws(KernelError) {
        let bytes = btf.encoded()
        let (fd, log) = loadWithLog(level: 0) { level, log, size in
            bytes.withUnsafeBytes { cbpf_btf_load($0.baseAddress, UInt32($0.count), level, log, size) }
        }
        if fd < 0 { throw KernelError(command: "BPF_BTF_LOAD", errno: -fd, log: log.isEmpty ? nil : log) }
        self.fd = fd
    }

    deinit { close(fd) }
}

/// Runs a load command (`BPF_PROG_LOAD`, `BPF_BTF_LOAD`) with a log of `level`, growing the
/// buffer until the kernel's log fits. At level 0 a failure is retried at level 1 to explain
/// itself, unless the failure is one no log explains (not permitted, no bpf(2)).
func loadWithLog(level: UInt32, _ call: (UInt32, UnsafeMutablePointer<CChar>?, UInt32) -> Int32) -> (fd: Int32, log: String) {
    func attempt(_ level: UInt32) -> (Int32, String) {
        guard level > 0 else { return (call(0, nil, 0), "") }
        var size: UInt32 = 1 << 16
        while true {
            var buffer = [CChar](repeating: 0, count: Int(size))
            let fd = buffer.withUnsafeMutableBufferPointer { call(level, $0.baseAddress, size) }
            if fd == -Int32(ENOSPC), size < 1 << 30 {
                size <<= 2
                continue
            }
            let log = buffer.withUnsafeBufferPointer { String(decoding: $0.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) }
            return (fd, log)
        }
    }
    let first = attempt(level)
    if first.0 < 0, level == 0, first.0 != -Int32(EPERM), first.0 != -Int32(ENOSYS) { return attempt(1) }
    return first
}

extension KernelBTF {
    /// The raw data of the kernel's BTF object `id` (an object's types, as a map or program
    /// was loaded with them).
    public static func bytes(id: UInt32) throws(KernelError) -> [UInt8] {
        var capacity: UInt32 = 1 << 16
        while true {
            var data = [UInt8](repeating: 0, count: Int(capacity))
            var size = capacity
            let r = data.withUnsafeMutableBytes { cbpf_btf_data_by_id(id, $0.baseAddress, &size) }
            guard r == 0 else { throw KernelError(command: "BPF_BTF_GET_FD_BY_ID (\(id))", errno: -r) }
            if size <= capacity { return Array(data.prefix(Int(size))) }
            capacity = size
        }
    }
}

public import BTF
import CBPFShims
import BPFPlatform

/// Type information loaded into the running kernel (`BPF_BTF_LOAD`), owning its file
/// descriptor. Maps name their key and value types in it; programs their functions and lines.
public final class KernelBTF {
    private let descriptor: Descriptor
    /// The BTF object's file descriptor.
    public var fd: Int32 { descriptor.rawValue }

    /// Loads `btf` (an object's, fixed up for the kernel: ``BPFObject/ObjectFile/loadableBTF()``).
    /// - Throws: ``KernelError`` with the kernel's BTF log when it refuses the types.
    public init(_ btf: BTF) throws(KernelError) {
        let bytes = btf.encoded()
        let (fd, log) = loadWithLog(level: 0) { level, log, size in
            bytes.withUnsafeBytes { cbpf_btf_load($0.baseAddress, UInt32($0.count), level, log, size) }
        }
        if fd < 0 { throw KernelError(command: "BPF_BTF_LOAD", errno: -fd, log: log.isEmpty ? nil : log) }
        descriptor = Descriptor(adopting: fd)
    }
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

import BPFPlatform

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

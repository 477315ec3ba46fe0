import BPFPlatform

/// Pages holding machine code, never writable and executable at once (W^X): mapped
/// read-write, filled, then turned read-execute for good; unmapped on deinit.
final class ExecutableMemory {
    let base: UnsafeMutableRawPointer
    let size: Int
    /// The bytes of code (the rest of the pages is padding).
    let codeLength: Int

    /// Maps pages for `code` and seals them; nil when the system refuses (its errno is kept).
    init?(_ code: [UInt8]) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        size = max(page, (code.count + page - 1) / page * page)
        codeLength = code.count
        guard let mapped = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            mapped != MAP_FAILED
        else { return nil }
        base = mapped
        // Unused bytes are int3, so a stray jump traps instead of running leftovers.
        base.initializeMemory(as: UInt8.self, repeating: 0xCC, count: size)
        code.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        guard mprotect(base, size, PROT_READ | PROT_EXEC) == 0 else {
            munmap(base, size)
            return nil
        }
    }

    deinit { munmap(base, size) }
}

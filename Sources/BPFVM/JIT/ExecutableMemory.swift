import BPFPlatform
import CBPFShims

/// Pages holding machine code, never writable and executable at once (W^X): mapped
/// read-write, filled, then turned read-execute for good (on Apple arm64, `MAP_JIT` pages
/// written with the thread's write protection off); the instruction cache cleaned; unmapped on
/// deinit.
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
        guard let mapped = cbpf_jit_map(size) else { return nil }
        base = mapped
        cbpf_jit_write_begin()
        // Unused bytes trap (int3 on x86-64, a permanently undefined word on arm64), so a stray
        // jump stops instead of running leftovers.
        #if arch(arm64)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        #else
        base.initializeMemory(as: UInt8.self, repeating: 0xCC, count: size)
        #endif
        code.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        guard cbpf_jit_seal(base, size, code.count) == 0 else {
            munmap(base, size)
            return nil
        }
    }

    deinit { munmap(base, size) }
}

import CBPFShims

/// The CPUs a per-CPU map keeps a value for: the kernel's *possible* CPUs.
package enum PossibleCPUs {
    /// The number of possible CPUs (`/sys/devices/system/cpu/possible` on Linux).
    package static let count: Int = {
        #if os(Linux)
        // "0-1", "0", or "0-3,5-7": one past the highest CPU number.
        if let text = readFirstLine("/sys/devices/system/cpu/possible"),
            let highest = text.split(separator: ",").compactMap({ $0.split(separator: "-").last.flatMap { Int($0) } }).max()
        {
            return highest + 1
        }
        #endif
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_CONF))))
    }()

    /// The calling thread's CPU, as an index below ``count``.
    @inline(__always) package static var current: Int { Int(cbpf_current_cpu()) % count }
}

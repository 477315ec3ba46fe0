/// What the kernel this process runs on says of itself, for programs' `__kconfig` externs:
/// the values libbpf supplies, from `uname` and the kernel's build configuration.
package enum KernelConfiguration {
    /// The running kernel's release (`uname -r`: `6.18.44-fc-v1272`); nil where `uname` fails.
    package static let release: String? = {
        var system = utsname()
        guard uname(&system) == 0 else { return nil }
        return withUnsafeBytes(of: system.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }()

    /// `LINUX_KERNEL_VERSION` (`KERNEL_VERSION(a, b, c)`), `LINUX_HAS_BPF_COOKIE` and
    /// `LINUX_HAS_SYSCALL_WRAPPER` (what libbpf's probes find on a 5.15+ kernel, x86-64 or
    /// arm64), and each `CONFIG_*` of `/boot/config-RELEASE` (`y` 1, `m` 2, numbers as they are).
    package static let values: [String: UInt64] = {
        var values: [String: UInt64] = [:]
        guard let release else { return values }
        #if os(Linux)
        let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(3).compactMap { UInt64($0) }
        if parts.count == 3 {
            values["LINUX_KERNEL_VERSION"] = parts[0] << 16 | parts[1] << 8 | min(parts[2], 255)
            let modern = parts[0] > 5 || (parts[0] == 5 && parts[1] >= 15)
            values["LINUX_HAS_BPF_COOKIE"] = modern ? 1 : 0
            values["LINUX_HAS_SYSCALL_WRAPPER"] = modern ? 1 : 0
        }
        for line in (readTextFile("/boot/config-" + release) ?? "").split(separator: "\n") where line.hasPrefix("CONFIG_") {
            let pair = line.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            let value: UInt64? =
                switch pair[1] {
                case "y": 1
                case "m": 2
                default: pair[1].hasPrefix("0x") ? UInt64(pair[1].dropFirst(2), radix: 16) : UInt64(pair[1])
                }
            if let value { values[String(pair[0])] = value }
        }
        #endif
        return values
    }()
}

import BPFPlatform

/// Locates the project's reference material (`../shared` beside the repository), which tests
/// read at run time. `SWIFTBPF_SHARED` overrides the location.
package enum SharedFixtures {
    /// The absolute path of `relative` inside the shared folder, or nil when it is absent.
    /// `file` is a source file inside the repository (pass `#filePath`).
    package static func path(_ relative: String, file: String = #filePath) -> String? {
        var root: String
        if let override = getenv("SWIFTBPF_SHARED") {
            root = String(cString: override)
        } else {
            // <repo>/Tests/<Target>/<File>.swift
            var parts = file.split(separator: "/", omittingEmptySubsequences: false)
            parts.removeLast(3)
            root = parts.joined(separator: "/") + "/../shared"
        }
        let full = root + "/" + relative
        return access(full, F_OK) == 0 ? full : nil
    }
}

/// A file of this repository, by its path from the repository's root (`file`: pass `#filePath`
/// from a test source, `<repo>/Tests/<Target>/<File>.swift`).
package func repositoryFile(_ relative: String, file: String = #filePath) -> String {
    var parts = file.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/") + "/" + relative
}

/// The little-endian unsigned number in `bytes` (at most 8 of them).
package func littleEndianValue(_ bytes: some Collection<UInt8>) -> UInt64 {
    bytes.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) }
}

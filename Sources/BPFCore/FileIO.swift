#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole file as UTF-8 text, or nil when it cannot be read.
package func readTextFile(_ path: String) -> String? {
    readFile(path).map { String(decoding: $0, as: UTF8.self) }
}

/// Reads a whole file's bytes, or nil when it cannot be read.
package func readFile(_ path: String) -> [UInt8]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        if n > 0 { out += chunk[0..<n] }
        if n < chunk.count { break }
    }
    return ferror(f) == 0 ? out : nil
}

/// The first line of a (small, often virtual: /proc, /sys) text file, without its newline.
package func readFirstLine(_ path: String) -> String? {
    readTextFile(path).flatMap { $0.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) }
}

/// The names in a directory (without `.` and `..`), or nil when it cannot be listed.
package func listDirectory(_ path: String) -> [String]? {
    guard let dir = opendir(path) else { return nil }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        if name != ".", name != ".." { names.append(name) }
    }
    return names
}

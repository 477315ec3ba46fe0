/// Reads a whole file as UTF-8 text, or nil when it cannot be read.
package func readTextFile(_ path: String) -> String? {
    readFile(path).map { String(decoding: $0, as: UTF8.self) }
}

/// Reads a whole file's bytes, or nil when it cannot be read.
///
/// Reads into a buffer of the file's size (virtual files, which report 0, grow one from a
/// page), never zero-filled first: a command that reads a few files starts no slower for it.
package func readFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var info = stat()
    var capacity = fstat(fd, &info) == 0 && info.st_size > 0 ? Int(info.st_size) + 1 : 4096
    var buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    defer { buffer.deallocate() }
    var length = 0
    while true {
        if length == capacity {
            let larger = UnsafeMutableRawPointer.allocate(byteCount: capacity * 2, alignment: 16)
            larger.copyMemory(from: buffer, byteCount: length)
            buffer.deallocate()
            (buffer, capacity) = (larger, capacity * 2)
        }
        let count = read(fd, buffer + length, capacity - length)
        if count == 0 { break }
        if count < 0 {
            if errno == EINTR { continue }
            return nil
        }
        length += count
    }
    return Array(UnsafeRawBufferPointer(start: buffer, count: length))
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

/// Writes `bytes` to a new or truncated file; false when it cannot be written.
package func writeFile(_ path: String, _ bytes: some Collection<UInt8>) -> Bool {
    guard let f = fopen(path, "wb") else { return false }
    let written = Array(bytes).withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
    return fclose(f) == 0 && written == bytes.count
}

/// Removes a file, or a directory with everything under it; nothing happens when it is absent.
package func removeTree(_ path: String) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    if info.st_mode & S_IFMT == S_IFDIR {
        for name in listDirectory(path) ?? [] { removeTree(path + "/" + name) }
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// Creates a directory and the ones above it that are missing; false when it cannot.
@discardableResult
package func makeDirectories(_ path: String) -> Bool {
    if mkdir(path, 0o755) == 0 { return true }
    switch errno {
    case EEXIST:
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    case ENOENT:
        // The parent is missing: make it, then this one.
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")), slash != path.utf8.startIndex else { return false }
        return makeDirectories(String(path[..<slash])) && (mkdir(path, 0o755) == 0 || errno == EEXIST)
    default:
        return false
    }
}

/// Whether `path` is a file this process may execute.
package func isExecutableFile(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && access(path, X_OK) == 0
}

/// Whether anything exists at `path`.
package func fileExists(_ path: String) -> Bool {
    access(path, F_OK) == 0
}

/// A tool's path: `tool` itself when it names a path, else the first executable of that name
/// on `PATH` (or `fallbackPath` when `PATH` is unset); nil when there is none.
package func executablePath(_ tool: String, fallbackPath: String = "/usr/bin:/bin:/usr/sbin:/sbin") -> String? {
    if tool.contains("/") { return isExecutableFile(tool) ? tool : nil }
    let path = getenv("PATH").map { String(cString: $0) } ?? fallbackPath
    return path.split(separator: ":").map { "\($0)/\(tool)" }.first(where: isExecutableFile)
}

/// The path of this process's executable (`/proc/self/exe`, resolved), nil where there is none.
package var currentExecutable: String? {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    return n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
}

/// The folder for temporary files: `TMPDIR`, else `/tmp`.
package var temporaryDirectory: String {
    getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
}

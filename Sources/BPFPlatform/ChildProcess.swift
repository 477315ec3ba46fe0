/// A program started with `posix_spawn`, its standard output and error read through pipes (or
/// sent to /dev/null). What the tools and benches need of a subprocess, without Foundation,
/// whose `Process` costs the command-line tool milliseconds of start-up.
package final class ChildProcess {
    package let pid: Int32
    private var output: Int32, errors: Int32
    private var status: Int32?

    /// Starts `path` with `arguments` (without the program name); with `captureOutput` or
    /// `captureErrors` false, that stream goes to /dev/null.
    package init(_ path: String, _ arguments: [String], captureOutput: Bool = true, captureErrors: Bool = true) throws(SpawnError) {
        var outputPipe: [Int32] = [-1, -1], errorPipe: [Int32] = [-1, -1]
        if captureOutput, pipe(&outputPipe) != 0 { throw SpawnError(path: path, errno: errno) }
        if captureErrors, pipe(&errorPipe) != 0 { throw SpawnError(path: path, errno: errno) }
        #if canImport(Darwin)
        var actions: posix_spawn_file_actions_t? = nil
        #else
        var actions = posix_spawn_file_actions_t()
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (stream, ends) in [(Int32(1), outputPipe), (Int32(2), errorPipe)] {
            if ends[1] >= 0 {
                posix_spawn_file_actions_adddup2(&actions, ends[1], stream)
                posix_spawn_file_actions_addclose(&actions, ends[0])
                posix_spawn_file_actions_addclose(&actions, ends[1])
            } else {
                posix_spawn_file_actions_addopen(&actions, stream, "/dev/null", O_WRONLY, 0)
            }
        }
        let argv = ([path] + arguments).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, nil, argv + [nil], environ)
        for end in [outputPipe[1], errorPipe[1]] where end >= 0 { close(end) }
        guard result == 0 else {
            for end in [outputPipe[0], errorPipe[0]] where end >= 0 { close(end) }
            throw SpawnError(path: path, errno: result)
        }
        self.pid = pid
        output = outputPipe[0]
        errors = errorPipe[0]
    }

    deinit {
        for fd in [output, errors] where fd >= 0 { close(fd) }
        if status == nil { _ = wait() }
    }

    /// Reads standard output until `done` holds for what was read, or it ends.
    package func readOutput(until done: (String) -> Bool) -> String {
        var bytes: [UInt8] = []
        while !done(String(decoding: bytes, as: UTF8.self)), readChunk(&output, into: &bytes) {}
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Reads standard output and error to their ends, then waits for the exit.
    package func finish() -> (status: Int32, output: String, errors: String) {
        var out: [UInt8] = [], err: [UInt8] = []
        while output >= 0 || errors >= 0 {
            var fds = [output, errors].filter { $0 >= 0 }.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard poll(&fds, nfds_t(fds.count), -1) >= 0 || errno == EINTR else { break }
            for entry in fds where entry.revents != 0 {
                if entry.fd == output { _ = readChunk(&output, into: &out) } else { _ = readChunk(&errors, into: &err) }
            }
        }
        return (wait(), String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    /// Waits for the exit: the exit status, or 128 + the signal that ended it.
    @discardableResult
    package func wait() -> Int32 {
        if let status { return status }
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0, errno == EINTR {}
        let code = raw & 0x7f == 0 ? (raw >> 8) & 0xff : 128 + raw & 0x7f
        status = code
        return code
    }

    /// Appends what one read(2) gives; false (and the descriptor closed) at the end.
    private func readChunk(_ fd: inout Int32, into bytes: inout [UInt8]) -> Bool {
        guard fd >= 0 else { return false }
        var chunk = [UInt8](repeating: 0, count: 65536)
        var count: Int
        repeat { count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } } while count < 0 && errno == EINTR
        guard count > 0 else {
            close(fd)
            fd = -1
            return false
        }
        bytes += chunk[..<count]
        return true
    }

    /// Why a program could not be started.
    package struct SpawnError: Error, CustomStringConvertible {
        package var path: String
        package var errno: Int32
        package var description: String { "cannot start \(path): \(String(cString: strerror(errno)))" }
    }
}

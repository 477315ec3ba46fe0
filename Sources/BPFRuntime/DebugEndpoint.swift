import BPFPlatform
import Synchronization

/// A Unix socket where an application that embeds the runtime answers for its programs and
/// maps, as the kernel answers `bpftool prog list`: `swiftbpf prog list --runtime PATH` (and
/// `map list`, either with `-j`) asks it. One request a connection, a line of text (`prog list`,
/// `prog list -j`, `map list`, `map list -j`, `link list`, `link list -j`; `stats on` and `stats off` count programs' runs, as
/// `swiftbpf prog stats on --runtime PATH` asks); the answer is the listing, then the connection closes.
public final class DebugEndpoint: Sendable {
    /// Why an endpoint could not be opened or asked.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The socket's path.
    public let path: String
    private let listener: Int32

    /// Listens at `path` (replacing a socket left there) and answers on a thread of its own
    /// until ``close()``.
    public init(path: String) throws(Failure) {
        self.path = path
        let fd = socket(AF_UNIX, Self.streamType, 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        unlink(path)
        guard Self.withAddress(path, { bind(fd, $0, $1) }) == 0, listen(fd, 8) == 0 else {
            let error = errno
            _ = BPFPlatform.close(fd)
            throw Failure(description: "\(path): cannot listen (errno \(error))")
        }
        listener = fd
        final class Box: @unchecked Sendable { let fd: Int32; init(_ fd: Int32) { self.fd = fd } }
        var thread = pthread_t()
        let context = Unmanaged.passRetained(Box(fd)).toOpaque()
        let started = pthread_create(
            &thread, nil,
            { context in
                let fd = Unmanaged<Box>.fromOpaque(context!).takeRetainedValue().fd
                DebugEndpoint.serve(fd)
                return nil
            }, context)
        guard started == 0 else {
            Unmanaged<Box>.fromOpaque(context).release()
            _ = BPFPlatform.close(fd)
            throw Failure(description: "cannot start the endpoint's thread (error \(started))")
        }
        pthread_detach(thread)
    }

    /// Stops answering and removes the socket.
    public func close() {
        shutdown(listener, Int32(SHUT_RDWR))
        unlink(path)
    }

    deinit { close() }

    /// Asks the endpoint at `path` and returns its answer.
    public static func request(_ line: String, at path: String) throws(Failure) -> String {
        let fd = socket(AF_UNIX, streamType, 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        defer { _ = BPFPlatform.close(fd) }
        guard withAddress(path, { connect(fd, $0, $1) }) == 0 else { throw Failure(description: "\(path): no runtime answers there (errno \(errno))") }
        let request = Array((line + "\n").utf8)
        guard request.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == request.count else {
            throw Failure(description: "\(path): the request could not be sent")
        }
        return String(decoding: readAll(fd), as: UTF8.self)
    }

    /// The answer to one request line.
    static func answer(_ request: String) -> String {
        let words = request.split(separator: " ")
        let json = words.contains("-j")
        switch words.first(where: { $0 != "-j" }).map(String.init) {
        case "prog":
            let programs = RuntimeInventory.programs()
            return json ? "[" + programs.map(RuntimeInventory.json).joined(separator: ",") + "]\n" : programs.map { RuntimeInventory.text($0) + "\n" }.joined()
        case "map":
            let maps = RuntimeInventory.maps()
            return json ? "[" + maps.map(RuntimeInventory.json).joined(separator: ",") + "]\n" : maps.map { RuntimeInventory.text($0) + "\n" }.joined()
        case "link":
            let links = RuntimeInventory.links()
            return json ? "[" + links.map(RuntimeInventory.json).joined(separator: ",") + "]\n" : links.map { RuntimeInventory.text($0) + "\n" }.joined()
        case "stats" where words.count == 2 && (words[1] == "on" || words[1] == "off"):
            // The endpoint's own token: statistics on until asked off (or the endpoint goes).
            statistics.withLock { $0 = words[1] == "on" ? ($0 ?? StatisticsToken()) : nil }
            return "statistics \(words[1])\n"
        default:
            return "error: '\(request)': ask 'prog list', 'map list' or 'link list' (with -j for JSON), or 'stats on' or 'stats off'\n"
        }
    }

    /// The token `stats on` made, released by `stats off`.
    private static let statistics = Mutex<StatisticsToken?>(nil)

    private static func serve(_ listener: Int32) {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                _ = BPFPlatform.close(listener)
                return
            }
            var line: [UInt8] = []
            var byte: UInt8 = 0
            while line.count < 256, read(connection, &byte, 1) == 1, byte != UInt8(ascii: "\n") { line.append(byte) }
            let reply = Array(answer(String(decoding: line, as: UTF8.self)).utf8)
            _ = reply.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
            _ = BPFPlatform.close(connection)
        }
    }

    private static func readAll(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { out += buffer[..<n] } else if n < 0, errno == EINTR { continue } else { return out }
        }
    }

    #if canImport(Glibc)
    private static let streamType = Int32(SOCK_STREAM.rawValue)
    #else
    private static let streamType = SOCK_STREAM
    #endif

    /// Calls `body` with `path` as a `sockaddr_un`.
    private static func withAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return -1 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes + [0]) }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}

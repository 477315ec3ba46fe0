import BPFBenchmarks
import BPFKernel
import BPFObject
import BPFTestSupport
import Foundation
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason

/// Counts datagrams and keeps their first 5 bytes.
private let source = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    __u64 seen;
    SEC("socket") int first_five(struct __sk_buff *skb) {
        __sync_fetch_and_add(&seen, 1);
        return 5;
    }
    char LICENSE[] SEC("license") = "GPL";
    """

@Suite("Socket filters on sockets")
struct SocketFilterAttachTests {
    /// Over a datagram socket pair: attached, the filter sees each datagram and cuts it to 5
    /// bytes; released, datagrams arrive whole and unseen.
    @Test(
        "a socket filter attached to a socket trims what it receives until released",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
    func trimsDatagrams() throws {
        let object = try KernelObject(try ObjectFile(bytes: try BPFCompiler.compile(text: source, name: "socket.bpf.c")))
        let bss = try #require(object.map(named: ".bss"))
        var pair: [Int32] = [-1, -1]
        try #require(socketpair(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0, &pair) == 0)
        defer { close(pair[0]); close(pair[1]) }
        func exchange(_ text: String) -> String {
            _ = text.withCString { send(pair[0], $0, strlen($0), 0) }
            var buffer = [UInt8](repeating: 0, count: 64)
            let n = recv(pair[1], &buffer, buffer.count, 0)
            return String(decoding: buffer.prefix(max(n, 0)), as: UTF8.self)
        }
        var attachment: SocketFilterAttachment? = try SocketFilterAttachment(try object.load(), socket: pair[1])
        #expect(exchange("hello, filter") == "hello")
        #expect(exchange("0123456789") == "01234")
        #expect(littleEndianValue(try #require(try bss.lookup([0, 0, 0, 0]))) == 2)
        attachment = nil
        #expect(exchange("hello, filter") == "hello, filter")
        #expect(littleEndianValue(try #require(try bss.lookup([0, 0, 0, 0]))) == 2)
        withExtendedLifetime(attachment) {}
        #expect(throws: KernelError.self) { try SocketFilterAttachment(try object.load(), socket: -1) }
    }
}

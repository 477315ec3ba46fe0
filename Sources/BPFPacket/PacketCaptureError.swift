/// Why a capture file or a classic BPF program cannot be used: what and where.
public struct PacketCaptureError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure, to match on.
    public enum Kind: Sendable, Equatable {
        /// The bytes are not a pcap or pcapng file, or are cut short or inconsistent.
        case malformedCapture
        /// A capture whose link type the program cannot take (only Ethernet is run).
        case unsupportedLinkType(UInt32)
        /// A classic BPF program that is malformed or fails `bpf_check_classic`.
        case invalidClassicProgram
        /// A filter expression libpcap refused, or libpcap is not installed.
        case filterExpression
    }

    public var kind: Kind
    /// Byte offset in the file, or instruction index in a program, where it went wrong.
    public var offset: Int?
    public var reason: String

    public init(_ kind: Kind, at offset: Int? = nil, _ reason: String) {
        self.kind = kind
        self.offset = offset
        self.reason = reason
    }

    public var description: String {
        switch kind {
        case .invalidClassicProgram: offset.map { "classic BPF instruction \($0): \(reason)" } ?? "classic BPF: \(reason)"
        case .filterExpression: "filter expression: \(reason)"
        default: offset.map { "capture, byte \($0): \(reason)" } ?? "capture: \(reason)"
        }
    }
}

public import BPFCore
public import BPFObject

/// Why the kernel backend could not do what was asked.
public enum KernelError: Error, Sendable, CustomStringConvertible {
    /// The kernel refused `operation` (a `bpf(2)` command, `perf_event_open`, a socket option, a
    /// netlink request) with `errno`; `log` holds the verifier's log for a refused program, or
    /// netlink's extended acknowledgement.
    case refused(operation: String, errno: Errno, log: String?)
    /// A program could not be prepared for `bpf(2)`: it is not in the object, its section names
    /// no program type, or its relocations or attach target cannot be resolved. The error names
    /// the section and offset where the object says so.
    case preparing(program: String, ObjectError)
    /// The program cannot be attached as asked: its section names no attach point this loader
    /// knows, or the attachment needs something not given (an interface for XDP and tc).
    case cannotAttach(program: String, reason: String)
    /// No loaded program or map answers to what was asked (`id`, `pinned`, `name`), or the
    /// request named one ambiguously.
    case noSuchObject(String)

    /// A refusal of `command` with errno `errno` (positive), and the verifier's log.
    public init(command: String, errno: Int32, log: String? = nil) {
        self = .refused(operation: command, errno: Errno(rawValue: errno), log: log)
    }

    /// The errno the kernel answered, when it answered one.
    public var errno: Errno? {
        if case let .refused(_, errno, _) = self { errno } else { nil }
    }

    /// The verifier's log or netlink's message, when the kernel gave one.
    public var log: String? {
        if case let .refused(_, _, log) = self { log } else { nil }
    }

    /// Why the program cannot be attached, for ``cannotAttach(program:reason:)``.
    public var cannotAttachReason: String? {
        if case let .cannotAttach(_, reason) = self { reason } else { nil }
    }

    /// The verifier's reason for refusing a program: the last line of its log before the
    /// `processed … insns` summary (which some messages, printed without a newline, run into);
    /// nil without a log.
    public var verifierReason: String? {
        guard let log else { return nil }
        let summary = "processed "
        let lines = log.split(separator: "\n").compactMap { line -> Substring? in
            if line.hasPrefix("verification time") || line.hasPrefix("stack depth") { return nil }
            let cut = line.indices.first { line[$0...].hasPrefix(summary) } ?? line.endIndex
            return line[..<cut].isEmpty ? nil : line[..<cut]
        }
        return lines.last.map(String.init)
    }

    /// The operation the kernel refused, or what could not be done.
    public var operation: String {
        switch self {
        case let .refused(operation, _, _): operation
        case let .preparing(program, _), let .cannotAttach(program, _): "program \(program)"
        case .noSuchObject: "lookup"
        }
    }

    public var description: String {
        switch self {
        case let .refused(operation, errno, log):
            var text = "\(operation) failed: \(errno)"
            if let log, !log.isEmpty { text += "\n" + log.split(separator: "\n").suffix(12).joined(separator: "\n") }
            return text
        case let .preparing(program, error): return "program \(program): \(error)"
        case let .cannotAttach(program, reason): return "program \(program): not attached: \(reason)"
        case let .noSuchObject(reason): return reason
        }
    }
}

import BPFCore
import BPFVerifier

/// What one verifier said of a program.
package enum Verdict: Sendable, Equatable {
    case accepted
    case refused(String)
    /// The kernel refused before its verifier ran (no log), so it judged nothing.
    case notJudged(String)

    package var isAccepted: Bool { self == .accepted }
    package var isRefused: Bool {
        if case .refused = self { return true }
        return false
    }
    package var message: String {
        switch self {
        case .accepted: "accepted"
        case .refused(let m), .notJudged(let m): m
        }
    }
}

extension FuzzProgram {
    /// Our verifier's verdict, with the kernel's rules (what passes loads into the kernel).
    package func ourVerdict() -> Verdict {
        var configuration = Verifier.Configuration(programType: type, maps: FuzzMaps.shapes)
        configuration.complexityLimit = 200_000
        do {
            _ = try Verifier.verify(code, configuration)
            return .accepted
        } catch {
            return .refused(error.message)
        }
    }
}

/// A refusal message with its numbers, registers and offsets folded, to count refusals by kind.
package func messageCategory(_ message: String) -> String {
    var out = ""
    var lastWasDigit = false
    var message = message.split(separator: "\n").first.map(String.init) ?? message
    if let cut = message.firstIndex(of: "p"), message[cut...].hasPrefix("processed ") { message = String(message[..<cut]) }
    for c in message {
        if c.isNumber {
            if !lastWasDigit { out.append("N") }
            lastWasDigit = true
        } else {
            lastWasDigit = false
            out.append(c)
        }
    }
    // Register states and tnums vary endlessly; keep the words.
    if let cut = out.firstIndex(of: "(") , out.hasPrefix("invalid access to packet") { out = String(out[..<cut]) }
    return out.replacingOccurrences(of: "-N", with: "N")
}

private extension String {
    func replacingOccurrences(of pattern: String, with replacement: String) -> String {
        var out = "", rest = Substring(self)
        while !rest.isEmpty {
            if rest.hasPrefix(pattern) {
                out += replacement
                rest = rest.dropFirst(pattern.count)
            } else {
                out.append(rest.removeFirst())
            }
        }
        return out
    }
}

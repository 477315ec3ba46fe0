import BPFCore
import BPFKernel
import BPFRuntime
import BPFVerifier
import BTF

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

/// The running kernel's object types, as the kernel reads them for tracing programs.
private let kernelTypes = BTF.vmlinux.map { BTFKernelObjectTypes(btf: $0) }

extension FuzzProgram {
    /// Our verifier's verdict, with the kernel's rules (what passes loads into the kernel).
    /// Our verifier's verdict (`privileged`: with a root kernel loader's `allow_uninit_stack`).
    package func ourVerdict(privileged: Bool = false) -> Verdict {
        var configuration = Verifier.Configuration(programType: type, maps: FuzzMaps.shapes)
        configuration.complexityLimit = 200_000
        configuration.allowUninitializedStack = privileged
        configuration.kernelTypes = kernelTypes
        configuration.hasFunctionInfo = true  // the oracle gives every subprogram BTF function info
        do {
            _ = try Verifier.verify(code, configuration)
            return .accepted
        } catch {
            return .refused(error.message)
        }
    }
}

/// A refusal message with its numbers (signed or not) folded to `N`, its first line only, to
/// count refusals by kind.
package func messageCategory(_ message: String) -> String {
    let line = Array(message.split(separator: "\n").first ?? "")
    var out = ""
    var i = 0
    while i < line.count {
        let startsNumber = line[i].isNumber || (line[i] == "-" && i + 1 < line.count && line[i + 1].isNumber)
        if startsNumber {
            out.append("N")
            i += 1
            while i < line.count, line[i].isNumber { i += 1 }
        } else {
            out.append(line[i])
            i += 1
        }
    }
    // Register states vary endlessly; keep the words.
    if out.hasPrefix("invalid access to packet"), let cut = out.firstIndex(of: "(") { out = String(out[..<cut]) }
    return out
}

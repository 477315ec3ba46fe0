import SwiftBPF

extension [VerdictComparison] {
    /// Each program's category (A both accept … E not judged), by program name.
    var categories: [String: Character] { Dictionary(uniqueKeysWithValues: map { ($0.program, $0.category) }) }
    /// Our verifier's refusal of each program, or "accepted", by program name.
    var ours: [String: String] { Dictionary(uniqueKeysWithValues: map { ($0.program, $0.ours ?? "accepted") }) }
}

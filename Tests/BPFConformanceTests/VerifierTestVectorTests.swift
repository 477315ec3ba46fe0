import BPFConformance
import BPFTestSupport
import Testing

private let vectorsDirectory = SharedFixtures.path("verifier-tests")
private let absent = "../shared/verifier-tests is absent: the verifier test vectors cannot run"

/// The cases, read once (nil when the folder is absent or unreadable).
private let cases: [VerifierTestCase]? = vectorsDirectory.flatMap { try? VerifierTestVectors.load(directory: $0) }

@Suite("Verifier test vectors (PREVAIL's YAML)")
struct VerifierTestVectorTests {
    @Test("the vectors are present and parse", .enabled(if: vectorsDirectory != nil, Comment(rawValue: absent)))
    func present() throws {
        let all = try VerifierTestVectors.load(directory: vectorsDirectory!)
        #expect(all.count >= 800)
        #expect(all.filter(\.expectsSafe).count > 300 && all.filter { !$0.expectsSafe }.count > 100)
    }

    /// Every case is judged on its verdict; at least 90% must agree (the rest are the
    /// differences `swiftbpf verifier-tests` lists: kernel rules PREVAIL does not have, types
    /// SwiftBPF does not model, helpers it does not provide).
    @Test("verdicts agree on at least 90% of the cases", .enabled(if: vectorsDirectory != nil, Comment(rawValue: absent)))
    func agreement() throws {
        let all = try #require(cases)
        let agreeing = all.filter { VerifierTestVectors.run($0).agrees }.count
        let ratio = Double(agreeing) / Double(all.count)
        #expect(ratio >= 0.90, "\(agreeing) of \(all.count) agree")
    }

    /// Safe cases the verifier refuses cost agreement; unsafe cases it accepts would be worse:
    /// each one is a difference of rules, and must stay one of those understood.
    @Test("no unsafe case is accepted but the known rule differences", .enabled(if: vectorsDirectory != nil, Comment(rawValue: absent)))
    func acceptedUnsafeCases() throws {
        let all = try #require(cases)
        let accepted = all.filter { !$0.expectsSafe && VerifierTestVectors.run($0).safe }.map(\.name)
        // Privileged kernel rules (a root loader may copy, compare, subtract and return
        // pointers: they become numbers) and PREVAIL's `observe` assertions, which SwiftBPF
        // does not evaluate.
        let understood: Set<String> = [
            "32-bit assign register stack value", "32-bit assign register shared value", "32-bit assign register packet value",
            "32-bit assign register context value", "32-bit assign register map value", "32-bit assign register map programs value",
            "multiple types add fail", "assume map_fd1 < map_fd2", "assume reg-vs-reg with different types (packet != number)",
            "assume reg-vs-reg with different types (stack < number)", "observe detects contradictory observation",
            "observe entailed fails for partial observation", "64-bit return context pointer", "32-bit return context pointer",
            "disallow subtraction of shared pointers", "disallow subtraction of unequal dual-typed pointers",
            "disallow subtraction of pointer from invalid pointer to a singleton region",
            // A root loader may also compare a pointer in r0 with memory by cmpxchg
            // (check_atomic_rmw's "leaks addr into mem" is for unprivileged loaders).
            "atomic 64-bit CMPXCHG comparing against non-number",
            // A 4-byte spill of a number at a slot's start makes the slot's other bytes written
            // (check_stack_write_fixed_off's mark_stack_slot_misc): the kernel reads 8 bytes there.
            "stack_numeric_size join must use minimum (8 bytes read after 4/8 write)",
        ]
        #expect(Set(accepted).subtracting(understood).isEmpty, "accepted unsafe: \(Set(accepted).subtracting(understood).sorted())")
    }
}

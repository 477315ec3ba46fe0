import BPFCore
import BPFKernel
import BPFTestSupport
import BPFVerifier
import Testing

private let kernelReason = KernelSupport.unavailableReason

/// The XDP context fields a plain XDP program may read as numbers (ingress_ifindex,
/// rx_queue_index).
private let xdpFields: [(offset: Int16, size: UInt8)] = [(12, 0x00), (16, 0x00)]

@Suite("Verifier verdicts against the kernel's")
struct VerifierVerdictTests {
    /// The same random XDP programs through our verifier and the kernel's (`BPF_PROG_LOAD`).
    /// Agreement is reported. A program we accept and the kernel refuses fails the test unless
    /// the instruction the kernel refused is one our verifier proved unreachable (it folds
    /// division and modulo by constants, `x % 3 < 3`, where the kernel knows nothing of the
    /// result; the soundness fuzz shows such programs run safely). Programs the kernel accepts
    /// and we refuse are allowed: a privileged kernel reads uninitialized stack, which SwiftBPF
    /// never allows, and tracks precision SwiftBPF does not.
    @Test(
        "random programs: what we accept, the kernel accepts", .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        arguments: 0..<3)
    func verdicts(seed: UInt64) throws {
        var g = SplitMix64(state: 0x6b65_726e &+ seed &* 0x9e37_79b9)
        var both = 0, neither = 0, onlyKernel = 0, deadForUs = 0
        var onlyOurs: [String] = []
        var configuration = Verifier.Configuration(programType: .xdp)
        configuration.complexityLimit = 100_000
        configuration.log = true
        for _ in 0..<120 {
            let code = randomVerifierProgram(&g, contextLoads: xdpFields)
            var visited: Set<Int> = []
            let ours: Bool
            do {
                let report = try Verifier.verify(code, configuration)
                visited = Set(report.log.compactMap { Int($0.prefix { $0 != ":" }) })
                ours = true
            } catch {
                ours = false
            }
            let kernel: Bool
            var kernelMessage = ""
            do {
                _ = try KernelProgram(type: .xdp, instructions: code)
                kernel = true
            } catch {
                kernel = false
                kernelMessage = "\(error)"
            }
            switch (ours, kernel) {
            case (true, true): both += 1
            case (false, false): neither += 1
            case (false, true): onlyKernel += 1
            case (true, false):
                // The last instruction the kernel's log shows is the one it refused.
                let refusedAt = kernelMessage.split(separator: "\n").compactMap { line -> Int? in
                    guard let colon = line.firstIndex(of: ":"), line[colon...].hasPrefix(": (") else { return nil }
                    return Int(line[..<colon].drop { $0 == " " })
                }.last
                if let refusedAt, !visited.contains(refusedAt) {
                    deadForUs += 1
                } else {
                    onlyOurs.append("\(kernelMessage.suffix(300))\n\(Disassembler.listing(code))")
                }
            }
        }
        let agree = both + neither
        print(
            "verifier verdicts vs the kernel, seed \(seed): \(agree)/120 agree (both accept \(both), both refuse \(neither)); kernel only \(onlyKernel); ours only \(deadForUs + onlyOurs.count), of which \(deadForUs) refused by the kernel at an instruction we prove unreachable"
        )
        #expect(onlyOurs.isEmpty, "accepted by SwiftBPF, refused by the kernel:\n\(onlyOurs.prefix(3).joined(separator: "\n\n"))")
        #expect(both > 3 && neither > 10, "both accept \(both), both refuse \(neither)")
    }
}

import BPFCore
import BPFKernel
import BPFPlatform
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let release = KernelConfiguration.release
private let sameKernel = release == HelperSignature.availabilityKernelRelease
private let skipReason =
    kernelReason
    ?? (sameKernel
        ? nil
        : "BPFCore's helper table was probed on Linux \(HelperSignature.availabilityKernelRelease), this is \(release ?? "unknown"); regenerate it with swiftbpf feature probe --swift")

@Suite("Helper availability against the running kernel")
struct HelperProbeTests {
    /// BPFCore's table (what the verifier allows each program type) is what the kernel answers
    /// now, helper by helper, for every program type probed.
    @Test("the availability table is the kernel's", .enabled(if: skipReason == nil, Comment(rawValue: skipReason ?? "")))
    func tableMatchesKernel() throws {
        var byType: [ProgramType: Set<Int32>] = [:]
        for target in HelperProbe.targets {
            guard let ids = try? HelperProbe.availableHelpers(target, limit: Int32(HelperSignature.helperIDLimit)) else { continue }
            let set = Set(ids.map(\.rawValue))
            byType[target.programType] = byType[target.programType].map { $0.intersection(set) } ?? set
        }
        #expect(byType.count >= 25)
        var checked = 0
        for (type, available) in byType {
            for id in 1..<Int32(HelperSignature.helperIDLimit) {
                #expect(HelperSignature.isAvailable(HelperID(rawValue: id), to: type) == available.contains(id), "\(type) helper \(id)")
                checked += 1
            }
        }
        #expect(checked > 5000)
    }
}

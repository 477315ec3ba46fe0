import BPFObject
import BPFTestSupport
import Foundation
import BPFCore
import BPFKernel
import BPFMaps
import BPFRuntime
import BPFVM
import BPFVerifier
import BTF
import Testing

/// One minimal program per root cause that the kernel's verifier refuses (or that crashed
/// ours): `../shared/verifier-soundness/`, each with the kernel's verdict and message.
struct Reproducer: Decodable, CustomTestStringConvertible, Sendable {
    var id: String
    var name: String
    var kernel_ok: Bool
    var kernel: String
    var testDescription: String { "\(id)/\(name)" }
}

private let folder = SharedFixtures.path("verifier-soundness")
private let reproducers: [Reproducer] = {
    guard let folder, let data = FileManager.default.contents(atPath: folder + "/reproducers.json") else { return [] }
    return (try? JSONDecoder().decode([Reproducer].self, from: data)) ?? []
}()

@Suite("Verifier soundness reproducers: the kernel's verdict, in the kernel's words")
struct SoundnessReproducerTests {
    @Test("the reproducers are there", .enabled(if: folder != nil, "../shared/verifier-soundness is absent"))
    func present() {
        #expect(reproducers.count >= 40, "reproducers.json lists \(reproducers.count)")
    }

    /// Each reproducer, verified as `swiftbpf verify` does: no crash, the kernel's verdict, and
    /// for a refusal the kernel's message.
    @Test("verdict and message", .enabled(if: folder != nil, "../shared/verifier-soundness is absent"), arguments: reproducers)
    func reproducer(_ r: Reproducer) throws {
        let bytes = try #require(FileManager.default.contents(atPath: "\(folder!)/\(r.id)/\(r.name).o"))
        let object = try UserspaceObject(try ObjectFile(bytes: Array(bytes)))
        do {
            _ = try object.verify()
            #expect(r.kernel_ok, "accepted; the kernel refuses: \(r.kernel)")
        } catch {
            let message = error.verification?.message ?? error.reason
            #expect(!r.kernel_ok, "refused (\(message)); the kernel accepts")
            #expect(message.contains(r.kernel), "refused with '\(message)'; the kernel says '\(r.kernel)'")
        }
    }
}

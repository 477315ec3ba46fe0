import BPFPlatform
import BPFConformance
import BPFCore
import BPFTestSupport
import BPFVM
import Testing

private let testsDirectory = SharedFixtures.path("conformance/tests")
private let negativeDirectory = SharedFixtures.path("conformance/negative")
private let absent = "../shared/conformance is absent: the BPF conformance suite cannot run"

private func names(_ directory: String?) -> [String] {
    guard let directory, let files = ConformanceRunner.files(in: directory) else { return [] }
    return files.map { String($0.split(separator: "/").last!) }
}

@Suite("BPF conformance suite")
struct ConformanceSuiteTests {
    @Test("the suite is present and complete", .enabled(if: testsDirectory != nil, Comment(rawValue: absent)))
    func suitePresent() {
        #expect(names(testsDirectory).count == 313)
        #expect(names(negativeDirectory).count >= 60)
    }

    @Test(
        "every conformance file passes", .enabled(if: testsDirectory != nil, Comment(rawValue: absent)),
        arguments: names(testsDirectory), ExecutionMode.available)
    func conformance(file: String, engine: ExecutionMode) {
        let outcome = ConformanceRunner.run(path: testsDirectory! + "/" + file, engine: engine)
        #expect(outcome == .passed, "\(file) on \(engine.name)")
    }

    /// Every negative input is refused: by the file parser or assembler, by validation, or by a
    /// result that does not match — never run and accepted as written.
    @Test(
        "every negative file is rejected", .enabled(if: negativeDirectory != nil, Comment(rawValue: absent)),
        arguments: names(negativeDirectory))
    func negative(file: String) throws {
        let text = try #require(readTextFile(negativeDirectory! + "/" + file))
        let parsed: ConformanceFile
        do { parsed = try ConformanceFile(text: text) } catch {
            #expect(error.line >= 1 && !error.message.isEmpty)  // assembler or format error, with a line
            return
        }
        do {
            _ = try Interpreter(parsed.instructions)
        } catch {
            #expect(error.index != nil, "\(file): a validation error names its instruction")
            return
        }
        // Assembled and valid: then the file's own expectation must be wrong.
        for engine in ExecutionMode.available {
            guard case let .failed(reason) = ConformanceRunner.run(text: text, engine: engine) else {
                Issue.record("\(file) passed on \(engine.name) but is a negative test")
                continue
            }
            #expect(reason.contains("expected"))
        }
    }
}

public import BPFVM
import BPFCore
import BPFPlatform

/// Runs conformance files and judges them.
public enum ConformanceRunner {
    /// The verdict on one file.
    public enum Outcome: Sendable, Equatable {
        case passed
        case failed(String)
    }

    /// Runs the file at `path` on `engine`.
    public static func run(path: String, engine: ExecutionMode) -> Outcome {
        guard let text = readTextFile(path) else { return .failed("cannot read the file") }
        return run(text: text, engine: engine)
    }

    /// Runs a conformance file's text on `engine`.
    public static func run(text: String, engine: ExecutionMode) -> Outcome {
        let file: ConformanceFile
        do { file = try ConformanceFile(text: text) } catch { return .failed(error.description) }
        let run: (UnsafeMutableRawBufferPointer) throws(ExecutionError) -> UInt64
        do { run = try engine.prepare(file.instructions) } catch {
            if file.expectedError != nil { return .passed }  // rejected, as expected
            return .failed("rejected: \(error)")
        }
        var memory = file.memory
        let result: UInt64
        do {
            result = try memory.withUnsafeMutableBytes { (buffer) throws(ExecutionError) -> UInt64 in try run(buffer) }
        } catch {
            if file.expectedError != nil { return .passed }
            return .failed("run-time error: \(error)")
        }
        if let expectedError = file.expectedError {
            return .failed("expected error '\(expectedError)', got r0 = 0x\(String(result, radix: 16))")
        }
        guard result == file.expectedResult else {
            return .failed("expected r0 = 0x\(String(file.expectedResult ?? 0, radix: 16)), got 0x\(String(result, radix: 16))")
        }
        return .passed
    }

    /// The `.data` files in `directory`, sorted by name.
    public static func files(in directory: String) -> [String]? {
        guard let names = listDirectory(directory)?.filter({ $0.hasSuffix(".data") }) else { return nil }
        return names.sorted().map { directory.hasSuffix("/") ? directory + $0 : directory + "/" + $0 }
    }
}

import Foundation

/// Compiles eBPF C sources with clang, as users do (`clang -O2 -g -target bpf`), for tests that
/// need real objects. Objects go to a temporary folder for the life of the process.
package enum BPFCompiler {
    /// Why compiling is impossible here (no clang, no libbpf headers), or nil when it works.
    package static let unavailableReason: String? = {
        guard let clang = clangPath else { return "clang is not installed" }
        guard FileManager.default.fileExists(atPath: "/usr/include/bpf/bpf_helpers.h") else {
            return "libbpf's headers are missing (apt-get install libbpf-dev)"
        }
        _ = clang
        return nil
    }()

    private static let clangPath: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"
        return path.split(separator: ":").map { "\($0)/clang" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    private static let outputDirectory: String = {
        let dir = NSTemporaryDirectory() + "swiftbpf-tests-\(ProcessInfo.processInfo.processIdentifier)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    /// Compiles the C file at `source` and returns the object's bytes.
    package static func compile(_ source: String) throws -> [UInt8] {
        guard let clang = clangPath else { throw CompileError(message: "clang is not installed") }
        var machine = utsname()
        uname(&machine)
        let arch = withUnsafeBytes(of: machine.machine) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        let output = outputDirectory + "/" + (source as NSString).lastPathComponent + ".o"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: clang)
        process.arguments = ["-O2", "-g", "-target", "bpf", "-I/usr/include/\(arch)-linux-gnu", "-c", source, "-o", output]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw CompileError(message: "clang failed on \(source): \(text)")
        }
        return Array(try Data(contentsOf: URL(fileURLWithPath: output)))
    }

    /// Compiles C `text`, written to a temporary file named `name`.
    package static func compile(text: String, name: String) throws -> [UInt8] {
        let path = outputDirectory + "/" + name
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
            throw CompileError(message: "cannot write \(path)")
        }
        return try compile(path)
    }

    package struct CompileError: Error, CustomStringConvertible {
        package var message: String
        package var description: String { message }
    }
}

/// Runs a reference tool (bpftool, llvm-objdump; found on PATH unless given as a path) and
/// returns its standard output, or nil when the tool is not installed or fails.
package func referenceToolOutput(_ tool: String, _ arguments: [String]) throws -> String? {
    let path = tool.contains("/") ? (FileManager.default.isExecutableFile(atPath: tool) ? tool : nil)
        : (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/usr/sbin").split(separator: ":")
            .map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    guard let path else { return nil }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = Pipe()
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return process.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
}

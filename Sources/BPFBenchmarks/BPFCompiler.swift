import BPFPlatform
import BPFCore

/// Compiles eBPF C sources with clang, as users do (`clang -O2 -g -target bpf`), for the tools
/// and tests that need real objects. Objects go to a temporary folder for the life of the process.
package enum BPFCompiler {
    /// Why compiling is impossible here (no clang, no libbpf headers), or nil when it works.
    package static let unavailableReason: String? = {
        guard clangPath != nil else { return "clang is not installed" }
        guard fileExists("/usr/include/bpf/bpf_helpers.h") else {
            return "libbpf's headers are missing (apt-get install libbpf-dev)"
        }
        return nil
    }()

    private static let clangPath: String? = executablePath("clang")

    private static let outputDirectory: String = {
        let dir = temporaryDirectory + "/swiftbpf-tests-\(getpid())"
        makeDirectories(dir)
        return dir
    }()

    /// Compiles the C file at `source` and returns the object's bytes.
    package static func compile(_ source: String) throws(CompileError) -> [UInt8] {
        guard let clang = clangPath else { throw CompileError(message: "clang is not installed") }
        var machine = utsname()
        uname(&machine)
        let arch = withUnsafeBytes(of: machine.machine) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        let output = try scratchDirectory() + "/" + (source.split(separator: "/").last.map(String.init) ?? source) + ".o"
        let result: (status: Int32, output: String, errors: String)
        do {
            // __TARGET_ARCH_* as libbpf-tools set it: bpf_tracing.h's PT_REGS macros need it.
            let target = arch == "aarch64" ? "arm64" : arch == "x86_64" ? "x86" : arch
            result = try ChildProcess(
                clang, ["-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_\(target)", "-I/usr/include/\(arch)-linux-gnu", "-c", source, "-o", output]
            ).finish()
        } catch {
            throw CompileError(message: "\(error)")
        }
        guard result.status == 0 else { throw CompileError(message: "clang failed on \(source): \(result.errors)") }
        guard let bytes = readFile(output) else { throw CompileError(message: "cannot read \(output)") }
        return bytes
    }

    /// Compiles C `text`, written to a temporary file named `name`.
    package static func compile(text: String, name: String) throws(CompileError) -> [UInt8] {
        let path = try scratchDirectory() + "/" + name
        guard writeFile(path, Array(text.utf8)) else { throw CompileError(message: "cannot write \(path)") }
        return try compile(path)
    }

    /// A new directory of its own under the output directory: compiles that run at once (the
    /// cases of a parameterized test do) never write the same file.
    private static func scratchDirectory() throws(CompileError) -> String {
        var template = Array((outputDirectory + "/XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw CompileError(message: "cannot make a directory under \(outputDirectory)") }
        return String(cString: made)
    }

    package struct CompileError: Error, CustomStringConvertible {
        package var message: String
        package var description: String { message }
    }
}

/// Runs a reference tool (bpftool, llvm-objdump; found on PATH unless given as a path) and
/// returns its standard output, or nil when the tool is not installed or fails.
package func referenceToolOutput(_ tool: String, _ arguments: [String]) -> String? {
    guard let path = executablePath(tool, fallbackPath: "/usr/bin:/usr/sbin"),
        let result = try? ChildProcess(path, arguments, captureErrors: false).finish(), result.status == 0
    else { return nil }
    return result.output
}

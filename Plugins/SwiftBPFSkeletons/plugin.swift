import Foundation
import PackagePlugin

/// Compiles every `*.bpf.c` under a target's directory with clang for the BPF target and
/// generates its Swift skeleton (`swiftbpf gen skeleton`) at build time, so the target's code
/// uses the object through typed structs and maps. `vmlinux.h` comes from the running kernel's
/// BTF (`swiftbpf btf dump --format c`) unless the target has one of its own. SwiftPM compiles
/// no C in a Swift target: keep the `.bpf.c` files in a folder the target excludes
/// (`exclude: ["bpf"]`). clang's errors are the build's errors. Types the maps and globals do
/// not name (a ring buffer's event struct) are asked for in the source with a line
/// `// swiftbpf-types: exec_event, other_struct`.
@main
struct SwiftBPFSkeletons: BuildToolPlugin {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        let directory = target.directoryURL
        var programs: [URL] = []
        if let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) {
            for case let url as URL in walker where url.lastPathComponent.hasSuffix(".bpf.c") { programs.append(url) }
        }
        guard !programs.isEmpty else {
            throw Failure(description: "target '\(target.name)' uses SwiftBPFSkeletons but has no *.bpf.c file under \(directory.path)")
        }
        let swiftbpf = try context.tool(named: "swiftbpf").url
        let clang = try context.tool(named: "clang").url
        let work = context.pluginWorkDirectoryURL
        var commands: [Command] = []
        // vmlinux.h: the target's own, or the running kernel's types.
        var includes = [directory.path]
        let own = programs.map { $0.deletingLastPathComponent().appending(path: "vmlinux.h") }.first { FileManager.default.fileExists(atPath: $0.path) }
        var headerInputs: [URL] = []
        if let own {
            includes.insert(own.deletingLastPathComponent().path, at: 0)
        } else {
            let header = work.appending(path: "include/vmlinux.h")
            commands.append(
                .buildCommand(
                    displayName: "Generating vmlinux.h from the running kernel's BTF", executable: swiftbpf,
                    arguments: ["btf", "dump", "/sys/kernel/btf/vmlinux", "--format", "c", "--output", header.path],
                    inputFiles: [], outputFiles: [header]))
            includes.insert(header.deletingLastPathComponent().path, at: 0)
            headerInputs = [header]
        }
        // The target architecture's headers and bpf_tracing.h's name for it (PT_REGS macros).
        #if arch(x86_64)
        let (multiarch, targetArch) = ("/usr/include/x86_64-linux-gnu", "x86")
        #else
        let (multiarch, targetArch) = ("/usr/include/aarch64-linux-gnu", "arm64")
        #endif
        for program in programs {
            let base = String(program.lastPathComponent.dropLast(".bpf.c".count))
            let object = work.appending(path: base + ".bpf.o")
            let skeleton = work.appending(path: base + ".skel.swift")
            let types = ((try? String(contentsOf: program, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line -> String? in
                guard let range = line.range(of: "// swiftbpf-types:") else { return nil }
                return line[range.upperBound...].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ",")
            }.joined(separator: ",")
            commands.append(
                .buildCommand(
                    displayName: "Compiling \(program.lastPathComponent) for BPF", executable: clang,
                    arguments: ["-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_\(targetArch)", "-I", multiarch] + includes.flatMap { ["-I", $0] } + [
                        "-c", program.path, "-o", object.path,
                    ],
                    inputFiles: [program] + headerInputs, outputFiles: [object]))
            commands.append(
                .buildCommand(
                    displayName: "Generating the skeleton of \(base).bpf.o", executable: swiftbpf,
                    arguments: ["gen", "skeleton", object.path, "--output", skeleton.path] + (types.isEmpty ? [] : ["--type", types]),
                    inputFiles: [object], outputFiles: [skeleton]))
        }
        return commands
    }
}

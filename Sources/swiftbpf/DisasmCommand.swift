import BPFPlatform
import BPFConformance
import BPFCore
import BPFObject
import BPFVM
import SwiftBPF

struct DisasmCommand {
    static let spec = CommandSpec(
        "disasm",
        abstract: "Print instructions in the kernel's verifier-log syntax, like bpftool prog dump xlated.",
        discussion: """
            Reads an eBPF ELF object (every program, or --program NAME), raw instruction bytes, assembly text, \
            or a conformance test file. With --jited, prints the native code the JIT makes of each \
            instruction instead, like bpftool prog dump jited (for objects: after map relocation and \
            context conversion, as the userspace runtime runs them): for this host's architecture, or \
            the one --arch names (x86_64 or arm64, on any host).
            """,
        parameters: [
            .argument("file", "An ELF object, raw instruction bytes, assembly text, or a conformance test file."),
            .option("program", "In an ELF object, only the program with this function name."),
            .flag("jited", "Show the JIT's native code under each instruction."),
            .flag("blind", "With --jited: blind constants, as the JIT does against spraying."),
            .option("arch", "With --jited: the JIT backend, x86_64 or arm64 (default: this host's)."),
        ]
    ) { try DisasmCommand($0).run() }

    var file: String
    var program: String?
    var jited: Bool
    var blind: Bool
    var architecture: NativeCode.Architecture?

    init(_ arguments: ParsedArguments) throws(UsageError) {
        file = arguments.argument("file")
        program = arguments.string("program")
        jited = arguments.flag("jited")
        blind = arguments.flag("blind")
        func usage(_ message: String) -> UsageError { UsageError(command: arguments.command, message: message) }
        if blind, !jited { throw usage("--blind blinds the JIT's constants: it needs --jited") }
        if let name = arguments.string("arch") {
            guard jited else { throw usage("--arch chooses the JIT's backend: it needs --jited") }
            guard let architecture = NativeCode.Architecture(rawValue: name) else {
                throw usage("--arch: '\(name)' is not one of \(NativeCode.Architecture.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self.architecture = architecture
        } else {
            architecture = NativeCode.Architecture.host
        }
    }

    func run() throws {
        guard let bytes = readFile(file) else { throw CLIError("\(file): cannot read the file") }
        let options = JITProgram.Options(blindConstants: blind, keepListing: true)
        if jited && architecture == nil { throw CLIError("--jited: the JIT compiles to x86-64 and arm64, and this host is neither: name one with --arch") }
        guard bytes.starts(with: [0x7f, 0x45, 0x4c, 0x46]) else {
            let instructions = try ProgramInput(path: file).instructions
            if jited, let architecture {
                do { print(try NativeCode(instructions, for: architecture, options: options).listing ?? "") } catch { throw CLIError("\(file): \(error)") }
            } else {
                print(Disassembler.listing(instructions))
            }
            return
        }
        let object: ObjectFile
        do { object = try ObjectFile(bytes: bytes) } catch { throw CLIError("\(file): \(error)") }
        var chosen = object.programs
        if let program {
            do { chosen = [try object.program(selecting: program)] } catch { throw CLIError("\(file): \(error)") }
        }
        for (i, p) in chosen.enumerated() {
            if i > 0 { print() }
            let type = p.kind.map { "\($0.type)" } ?? "unknown section type"
            print("\(p.name): SEC(\"\(p.section)\") \(type), \(p.instructions.count) instructions, \(p.relocations.count) relocations")
            if jited, let architecture {
                do {
                    let loaded = try UserspaceObject(object).load(program: p.name)
                    let start = monotonicNanoseconds()
                    let code = try loaded.nativeCode(for: architecture, options: options)
                    print("\(code.bytes.count) bytes of \(architecture.rawValue), compiled in \((monotonicNanoseconds() - start) / 1000) µs")
                    print(code.listing ?? "")
                } catch { throw CLIError("\(file): \(error)") }
            } else {
                printListing(p)
            }
        }
    }

    /// The listing with each C source line (from BTF line info) above its first instruction,
    /// as `bpftool prog dump xlated linum` shows it.
    private func printListing(_ program: ObjectFile.Program) {
        let lines = Disassembler.listing(program.instructions).split(separator: "\n")
        var sources = Dictionary(grouping: program.sourceLines, by: \.instruction)
        for line in lines {
            let index = Int(line.prefix(while: { $0 != ":" }).trimmingCharacters()) ?? -1
            for source in sources.removeValue(forKey: index) ?? [] {
                let file = source.file.split(separator: "/").last.map(String.init) ?? source.file
                print("; \(source.text) [\(file):\(source.line):\(source.column)]")
            }
            print(line)
        }
    }
}

private extension Substring {
    func trimmingCharacters() -> String { String(drop(while: { $0 == " " })) }
}

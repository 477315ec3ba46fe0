import ArgumentParser
import BPFConformance
import BPFCore
import BPFObject

struct DisasmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disasm",
        abstract: "Print instructions in the kernel's verifier-log syntax, like bpftool prog dump xlated.",
        discussion: "Reads an eBPF ELF object (every program, or --program NAME), raw instruction bytes, assembly text, or a conformance test file."
    )

    @Argument(help: "An ELF object, raw instruction bytes, assembly text, or a conformance test file.") var file: String
    @Option(help: "In an ELF object, only the program with this function name.") var program: String?

    func run() throws {
        guard let bytes = readFile(file) else { throw CLIError("\(file): cannot read the file") }
        guard bytes.starts(with: [0x7f, 0x45, 0x4c, 0x46]) else {
            print(Disassembler.listing(try ProgramInput(path: file).instructions))
            return
        }
        let object: ObjectFile
        do { object = try ObjectFile(bytes: bytes) } catch { throw CLIError("\(file): \(error)") }
        let chosen = object.programs.filter { program == nil || $0.name == program }
        if chosen.isEmpty {
            let names = object.programs.map(\.name).joined(separator: ", ")
            throw CLIError("\(file): no program \(program.map { "named '\($0)'" } ?? "") (programs: \(names.isEmpty ? "none" : names))")
        }
        for (i, p) in chosen.enumerated() {
            if i > 0 { print() }
            let type = p.kind.map { "\($0.type)" } ?? "unknown section type"
            print("\(p.name): SEC(\"\(p.section)\") \(type), \(p.instructions.count) instructions, \(p.relocations.count) relocations")
            print(Disassembler.listing(p.instructions))
        }
    }
}

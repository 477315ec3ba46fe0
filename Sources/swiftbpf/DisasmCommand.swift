import ArgumentParser
import BPFCore

struct DisasmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disasm",
        abstract: "Print instructions in the kernel's verifier-log syntax, like bpftool prog dump xlated."
    )

    @Argument(help: "Raw instruction bytes, assembly text, or a conformance test file.") var file: String

    func run() throws {
        print(Disassembler.listing(try ProgramInput(path: file).instructions))
    }
}

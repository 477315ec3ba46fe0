import BPFPlatform
import BPFCore

struct AsmCommand {
    static let spec = CommandSpec(
        "asm",
        abstract: "Assemble text (or a conformance file's program) into raw instructions.",
        discussion: "Writes raw little-endian instructions to --output, or hex words to standard output.",
        parameters: [
            .argument("file", "Assembly text, or a conformance test file."),
            .option("output", short: "o", "Write raw instruction bytes to this file."),
        ]
    ) { try AsmCommand($0).run() }

    var file: String
    var output: String?

    init(_ arguments: ParsedArguments) {
        file = arguments.argument("file")
        output = arguments.string("output")
    }

    func run() throws {
        let program = try ProgramInput(path: file)
        if let output {
            guard writeFile(output, Instruction.encode(program.instructions)) else { throw CLIError("\(output): cannot write the file") }
        } else {
            for insn in program.instructions { print(hexString(insn.bytes, separator: " ")) }
        }
    }
}

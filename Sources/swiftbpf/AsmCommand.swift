import BPFCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
            let bytes = Instruction.encode(program.instructions)
            guard let f = fopen(output, "wb") else { throw CLIError("\(output): cannot open for writing") }
            defer { fclose(f) }
            guard fwrite(bytes, 1, bytes.count, f) == bytes.count else { throw CLIError("\(output): write failed") }
        } else {
            for insn in program.instructions {
                print(insn.bytes.map { String($0, radix: 16).leftPadded(2) }.joined(separator: " "))
            }
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}

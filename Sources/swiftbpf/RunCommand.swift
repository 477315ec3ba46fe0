public import ArgumentParser
import BPFConformance
import BPFVM

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a program with input memory (r1 = address, r2 = length) and print r0 in hex."
    )

    @Argument(help: "Raw instruction bytes, assembly text, or a conformance test file.") var file: String
    @Option(help: "Input memory as hex bytes (default: the file's '-- mem' section).") var mem: String?
    @Option(help: "checked (bounds-checked, the default until the verifier lands) or interpreter (no checks).") var engine: Engine = .checked

    func run() throws {
        let program = try ProgramInput(path: file)
        var memory = try mem.map(parseHexBytes) ?? program.memory
        let interpreter: Interpreter
        do { interpreter = try Interpreter(program.instructions) } catch { throw CLIError("\(file): \(error)") }
        do {
            let r0 = try memory.withUnsafeMutableBytes { (buffer) throws(ExecutionError) -> UInt64 in
                try interpreter.run(memory: buffer, mode: engine == .checked ? .checked() : .fast)
            }
            print("0x" + String(r0, radix: 16))
        } catch {
            throw CLIError("\(file): \(error)")
        }
    }
}

extension Engine: ExpressibleByArgument {}

public import ArgumentParser
import BPFConformance
import BPFCore
import BPFKernel
import BPFObject
import BPFVM

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a program and print its result.",
        discussion: """
            A program in text, raw or conformance form runs in the userspace interpreter over input \
            memory (r1 = address, r2 = length) and prints r0 in hex. An ELF object runs with --kernel \
            in the running kernel through BPF_PROG_TEST_RUN on --packet, printing the return value, \
            the kernel's ns/run and the output packet when it changed.
            """
    )

    @Argument(help: "An ELF object, raw instruction bytes, assembly text, or a conformance test file.") var file: String
    @Option(help: "Input memory as hex bytes (default: the file's '-- mem' section).") var mem: String?
    @Option(help: "checked (bounds-checked, the default until the verifier lands) or interpreter (no checks).") var engine: Engine = .checked
    @Flag(help: "Run in the kernel through BPF_PROG_TEST_RUN (ELF objects).") var kernel = false
    @Option(help: "The packet (or context data) as hex bytes, for --kernel.") var packet: String?
    @Option(help: "Read the packet from a file, for --kernel.") var packetFile: String?
    @Option(help: "In an ELF object, the program's function name.") var program: String?
    @Option(name: .customLong("repeat"), help: "Runs to time, for --kernel.") var runs: UInt32 = 1

    func run() throws {
        guard let bytes = readFile(file) else { throw CLIError("\(file): cannot read the file") }
        if bytes.starts(with: [0x7f, 0x45, 0x4c, 0x46]) {
            guard kernel else {
                throw CLIError("\(file): is an ELF object; the userspace runtime cannot run object programs yet (they need maps and contexts); add --kernel to run it in the kernel")
            }
            try runInKernel(bytes)
            return
        }
        guard !kernel else { throw CLIError("--kernel runs ELF objects (the kernel needs a program type, which objects name)") }
        let input = try ProgramInput(path: file)
        var memory = try mem.map(parseHexBytes) ?? input.memory
        let interpreter: Interpreter
        do { interpreter = try Interpreter(input.instructions) } catch { throw CLIError("\(file): \(error)") }
        do {
            let r0 = try memory.withUnsafeMutableBytes { (buffer) throws(ExecutionError) -> UInt64 in
                try interpreter.run(memory: buffer, mode: engine == .checked ? .checked() : .fast)
            }
            print("0x" + String(r0, radix: 16))
        } catch {
            throw CLIError("\(file): \(error)")
        }
    }

    private func runInKernel(_ bytes: [UInt8]) throws {
        if let reason = KernelSupport.unavailableReason { throw CLIError("--kernel: \(reason)") }
        var data: [UInt8]
        if let packetFile {
            guard let contents = readFile(packetFile) else { throw CLIError("\(packetFile): cannot read the file") }
            data = contents
        } else {
            data = try packet.map(parseHexBytes) ?? []
        }
        let object: ObjectFile
        do { object = try ObjectFile(bytes: bytes) } catch { throw CLIError("\(file): \(error)") }
        let result: KernelProgram.TestRun
        let type: ProgramType
        do {
            let loaded = try KernelObject(object)
            let program = try loaded.load(program: program)
            type = program.type
            result = try program.testRun(data: data, repeat: max(runs, 1))
        } catch {
            throw CLIError("\(file): \(error)")
        }
        let xdpNames = ["XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT"]
        let name = type == .xdp && Int(result.returnValue) < xdpNames.count ? " (\(xdpNames[Int(result.returnValue)]))" : ""
        print("retval \(result.returnValue)\(name)")
        print("duration \(result.nanosecondsPerRun) ns/run (kernel, \(max(runs, 1)) run\(runs > 1 ? "s" : ""))")
        if result.data != data {
            print("packet " + result.data.map { String($0, radix: 16).leftPadded(2) }.joined())
        } else {
            print("packet unchanged")
        }
    }
}

extension Engine: ExpressibleByArgument {}

import BPFPlatform
import BPFConformance
import BPFCore
import BPFKernel
import BPFObject
import BPFVM
import SwiftBPF

struct RunCommand {
    static let spec = CommandSpec(
        "run",
        abstract: "Run a program and print its result.",
        discussion: """
            A program in text, raw or conformance form runs in the userspace interpreter over input \
            memory (r1 = address, r2 = length) and prints r0 in hex. An ELF object's program runs on \
            --packet — in the userspace runtime, or with --kernel in the running kernel through \
            BPF_PROG_TEST_RUN — printing the return value, ns/run and the output packet when it changed.
            """,
        parameters: [
            .argument("file", "An ELF object, raw instruction bytes, assembly text, or a conformance test file."),
            .option("mem", "Input memory as hex bytes (default: the file's '-- mem' section)."),
            .option(
                "engine",
                "checked (bounds-checked), interpreter or jit (native code, x86-64 or arm64; both unchecked). Default: an ELF object's program, which loading verifies, runs on jit (interpreter without a JIT); instructions, which are not verified, run checked."
            ),
            .flag("kernel", "Run an ELF object's program in the kernel through BPF_PROG_TEST_RUN."),
            .option("packet", "The packet as hex bytes, for ELF objects."),
            .option("packet-file", "Read the packet from a file, for ELF objects."),
            .option("program", "In an ELF object, the program's function name."),
            .option("repeat", "Runs to time, for ELF objects.", default: "1"),
        ]
    ) { try RunCommand($0).run() }

    var file: String
    var mem: String?
    var engine: ExecutionMode?
    var kernel: Bool
    var packet: String?
    var packetFile: String?
    var program: String?
    var runs: UInt32

    init(_ arguments: ParsedArguments) throws(UsageError) {
        file = arguments.argument("file")
        mem = arguments.string("mem")
        engine = try arguments.engine()
        kernel = arguments.flag("kernel")
        packet = arguments.string("packet")
        packetFile = arguments.string("packet-file")
        program = arguments.string("program")
        runs = try arguments.value("repeat") ?? 1
        if runs == 0 { throw UsageError(command: arguments.command, message: "--repeat: a program runs at least once") }
    }

    func run() throws {
        guard let bytes = readFile(file) else { throw CLIError("\(file): cannot read the file") }
        if bytes.starts(with: [0x7f, 0x45, 0x4c, 0x46]) {
            try runObject(bytes)
            return
        }
        guard !kernel else { throw CLIError("--kernel runs ELF objects (the kernel needs a program type, which objects name)") }
        let input = try ProgramInput(path: file)
        var memory = try mem.map(parseHexBytes) ?? input.memory
        let run: (UnsafeMutableRawBufferPointer) throws(ExecutionError) -> UInt64
        do { run = try (engine ?? .checked()).prepare(input.instructions) } catch { throw CLIError("\(file): \(error)") }
        do {
            let r0 = try memory.withUnsafeMutableBytes { (buffer) throws(ExecutionError) -> UInt64 in try run(buffer) }
            print("0x" + String(r0, radix: 16))
        } catch {
            throw CLIError("\(file): \(error)")
        }
    }

    private func runObject(_ bytes: [UInt8]) throws {
        var data: [UInt8]
        if let packetFile {
            guard let contents = readFile(packetFile) else { throw CLIError("\(packetFile): cannot read the file") }
            data = contents
        } else {
            data = try packet.map(parseHexBytes) ?? []
        }
        let object: ObjectFile
        do { object = try ObjectFile(bytes: bytes) } catch { throw CLIError("\(file): \(error)") }
        let count = max(runs, 1)
        let returnValue: UInt32, output: [UInt8], nanoseconds: String, type: ProgramType
        do {
            if kernel {
                if let reason = KernelSupport.unavailableReason { throw CLIError("--kernel: \(reason)") }
                let loaded = try KernelObject(object).load(program: program)
                let result = try loaded.testRun(data: data, repeat: count)
                (returnValue, output, type) = (result.returnValue, Array(result.data.prefix(data.count)), loaded.type)
                nanoseconds = "\(Int(result.nanosecondsPerRun)) ns/run (kernel"
            } else {
                let loaded = try UserspaceObject(object).load(program: program)
                let chosen = engine ?? loaded.defaultMode
                let result = try loaded.testRun(data: data, repeat: Int(count), mode: chosen)
                (returnValue, output, type) = (result.returnValue, result.data, loaded.type)
                nanoseconds = "\(format1(result.nanosecondsPerRun)) ns/run (\(chosen.name)"
            }
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError("\(file): \(error)")
        }
        let xdpNames = ["XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT"]
        let name = type == .xdp && Int(returnValue) < xdpNames.count ? " (\(xdpNames[Int(returnValue)]))" : ""
        print("retval \(returnValue)\(name)")
        print("duration \(nanoseconds), \(count) run\(count > 1 ? "s" : ""))")
        print(output == data ? "packet unchanged" : "packet " + hexString(output))
    }
}

extension ParsedArguments {
    /// The `--engine` option: checked, interpreter or jit.
    func engine() throws(UsageError) -> ExecutionMode? {
        try value("engine") { ExecutionMode(name: $0) }
    }
}

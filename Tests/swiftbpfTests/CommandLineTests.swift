import BPFCore
import BPFKernel
import BPFPacket
import BPFPlatform
import BPFRuntime
import BPFVM
import Foundation
import Testing
@testable import swiftbpf

private let spec = CommandSpec(
    "load", abstract: "Load.",
    parameters: [
        .argument("object", "The object."),
        .optionalArgument("extra", "More."),
        .flag("kernel", "In the kernel."),
        .option("pin", "Pin here."),
        .option("output", short: "o", "Write here."),
        .option("repeat", "Runs.", default: "1"),
    ]
) { _ in }

private func parse(_ words: [String]) throws(UsageError) -> ParsedArguments {
    try ParsedArguments(words, spec: spec, command: ["swiftbpf", "load"])
}

@Suite("The command line")
struct CommandLineTests {
    @Test("arguments, flags, options in every spelling, defaults and '--'")
    func parsing() throws {
        let a = try parse(["x.o", "--kernel", "--pin", "/sys/fs/bpf/a", "-o", "out", "--repeat=7"])
        #expect(a.argument("object") == "x.o" && a.string("extra") == nil)
        #expect(a.flag("kernel") && a.string("pin") == "/sys/fs/bpf/a" && a.string("output") == "out")
        #expect(try a.value("repeat", as: Int.self) == 7)
        let b = try parse(["--", "--kernel", "-"])
        #expect(b.argument("object") == "--kernel" && b.string("extra") == "-" && !b.flag("kernel"))
        #expect(try b.value("repeat", as: Int.self) == 1 && b.string("pin") == nil)
        #expect(try parse(["x.o", "-h"]).wantsHelp && !(try parse(["x.o"]).wantsHelp))
        let c = try parse(["x.o", "--pin", "first", "--repeat", "3", "--pin=second"])
        #expect(c.string("pin") == "second", "an option given twice keeps its last value")
        #expect(try c.value("repeat", as: Int.self) == 3)
    }

    @Test(
        "what does not fit the command is a usage error saying why",
        arguments: [
            (["x.o", "--bogus"], "unknown option '--bogus'"),
            (["x.o", "-q"], "unknown option '-q'"),
            (["x.o", "--pin"], "missing value for '--pin'"),
            (["x.o", "--kernel=1"], "'--kernel' takes no value"),
            ([], "missing expected argument '<object>'"),
            (["x.o", "y", "z"], "unexpected argument 'z'"),
        ])
    func refusals(words: [String], message: String) {
        do {
            _ = try parse(words)
            Issue.record("\(words) was accepted")
        } catch {
            #expect(error.message == message && error.command == ["swiftbpf", "load"])
        }
    }

    @Test("a repeated argument takes every word left, and at least one")
    func repeated() throws {
        let verify = CommandSpec("verify", abstract: "Verify.", parameters: [.arguments("object", "Objects."), .flag("log", "Log.")]) { _ in }
        let a = try ParsedArguments(["a.o", "--log", "b.o", "c.o"], spec: verify, command: ["swiftbpf", "verify"])
        #expect(a.arguments("object") == ["a.o", "b.o", "c.o"] && a.flag("log"))
        #expect(verify.usage(["swiftbpf", "verify"]) == "swiftbpf verify <object> ... [--log]")
        #expect(throws: UsageError.self) { try ParsedArguments(["--log"], spec: verify, command: ["swiftbpf", "verify"]) }
    }

    @Test("a value of the wrong kind names the option")
    func badValue() throws {
        let a = try parse(["x.o", "--repeat", "many"])
        do {
            _ = try a.value("repeat", as: Int.self)
            Issue.record("'many' was read as a number")
        } catch {
            #expect(error.message == "the value 'many' is invalid for '--repeat <repeat>'")
        }
    }

    @Test("exit statuses: 0 for help, 64 for a command line that does not fit, the command's own for its failure")
    func statuses() {
        let failing = CommandSpec("fail", abstract: "Fails.") { _ in throw ExitStatus(3) }
        let root = CommandSpec("swiftbpf", abstract: "Root.", subcommands: [spec, failing, SwiftBPFCommand.spec.subcommands[0]])
        #expect(root.main(["help", "load"]) == 0)
        #expect(root.main(["load", "--help"]) == 0)
        #expect(root.main(["nothing"]) == 64)
        #expect(root.main(["help", "nothing"]) == 64)
        #expect(root.main(["load"]) == 64)
        #expect(root.main(["fail"]) == 3)
    }

    @Test("fuzz-verifier: options that cannot apply are usage errors; without --kernel it hunts crashes and succeeds")
    func fuzzVerifier() {
        let root = SwiftBPFCommand.spec
        #expect(root.main(["fuzz-verifier", "--count", "0"]) == 64)
        #expect(root.main(["fuzz-verifier", "--save", "/tmp/x"]) == 64, "--save needs --kernel")
        #expect(root.main(["fuzz-verifier", "--no-minimize"]) == 64, "--no-minimize needs --kernel")
        #expect(root.main(["fuzz-verifier", "--count", "50", "--seed", "3"]) == 0)
    }

    @Test("the help lists every argument, option and subcommand, wrapped at 80 columns")
    func help() {
        let text = SwiftBPFCommand.spec.help(["swiftbpf"])
        for command in SwiftBPFCommand.spec.subcommands { #expect(text.contains("  \(command.name) ")) }
        let load = spec.help(["swiftbpf", "load"])
        let words = load.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(words.contains("USAGE: swiftbpf load <object> [<extra>] [--kernel] [--pin <pin>] [--output <output>] [--repeat <repeat>] ARGUMENTS:"))
        #expect(load.contains("  -o, --output <output>   Write here."))
        #expect(load.contains("Runs. (default: 1)"))
        for page in [text, load] + SwiftBPFCommand.spec.subcommands.map({ $0.help(["swiftbpf", $0.name]) }) {
            #expect(page.split(separator: "\n").allSatisfy { $0.count <= 80 || !$0.contains(" ") })
        }
    }

    @Test("options that cannot apply are usage errors (64), not silently ignored")
    func inapplicable() {
        let root = SwiftBPFCommand.spec
        #expect(root.main(["disasm", "/dev/null", "--blind"]) == 64, "--blind without --jited")
        #expect(root.main(["run", "/dev/null", "--repeat", "0"]) == 64, "--repeat 0")
        #expect(root.main(["map", "dump", "1", "--hex", "-j"]) == 64, "--hex with -j")
        #expect(root.main(["conformance", "/nonexistent"]) == 1)
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbpf-empty-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        #expect(root.main(["conformance", empty]) == 1, "no conformance files: nothing was checked")
        #expect(root.main(["btf", "dump", "/sys/kernel/btf/vmlinux", "--format", "c", "-j"]) == 64, "-j with a C header")
        #expect(root.main(["btf", "dump", "/sys/kernel/btf/vmlinux", "--format", "h"]) == 64, "an unknown format")
        #expect(root.main(["verify", "/dev/null", "--type", "bogus"]) == 64, "an unknown --type lists the valid ones")
        #expect(root.main(["disasm", "/dev/null", "--arch", "arm64"]) == 64, "--arch without --jited")
        #expect(root.main(["disasm", "/dev/null", "--jited", "--arch", "mips"]) == 64, "an unknown --arch lists the valid ones")
        #expect(root.main(["conformance", "/tmp", "--arch", "arm64"]) == 64, "--arch needs --engine jit")
        #expect(root.main(["conformance", "/tmp", "--engine", "jit", "--arch", "arm64"]) == 64, "--arch arm64 needs --runner")
        #expect(root.main(["conformance", "/tmp", "--no-lse"]) == 64, "--no-lse without --arch arm64")
        #expect(root.main(["prog", "show", "bogus", "1"]) == 1 || KernelSupport.unavailableReason != nil)
        // Ids no object has, of each kind: an error naming the request (a BTF id once crashed).
        for words in [["prog", "show"], ["map", "show"], ["link", "show"], ["btf", "show"]] {
            #expect(root.main(words + ["id", "4294967295"]) == 1 || KernelSupport.unavailableReason != nil, "\(words)")
        }
    }

    @Test("disasm --jited --arch arm64 prints the arm64 code of a program on any host")
    func disasmArm64() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbpf-disasm-\(getpid()).asm").path
        try "mov %r0, 1\nlock add [%r10-8], %r0\nexit\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        #expect(SwiftBPFCommand.spec.main(["disasm", path, "--jited", "--arch", "arm64"]) == 0)
        let code = try NativeCode([Instruction(opcode: 0xb7, imm: 1), Instruction(opcode: 0x95)], for: .arm64, options: .init(keepListing: true))
        #expect(code.listing?.contains("mov x7, #1") == true && code.listing?.contains("ret") == true)
    }

    @Test("prog list and map list --runtime: an embedded runtime's listing through its debug endpoint")
    func runtimeListing() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbpf-cli-endpoint-\(getpid()).sock").path
        let program = try UserspaceProgram.load(instructions: [Instruction(opcode: 0xb7), Instruction(opcode: 0x95)], type: .xdp, name: "cli_listed")
        let endpoint = try DebugEndpoint(path: path)
        defer { endpoint.close() }
        #expect(RuntimeInventory.programs().contains { $0.id == program.id && $0.name == "cli_listed" })
        let root = SwiftBPFCommand.spec
        #expect(root.main(["prog", "list", "--runtime", path, "-j"]) == 0)
        #expect(root.main(["map", "list", "--runtime", path]) == 0)
        #expect(root.main(["prog", "list", "--runtime", path + ".absent"]) == 1, "no runtime there")
    }

    @Test("pcap: a filter over a capture, its verdicts written; command lines that cannot apply refused")
    func pcap() throws {
        let root = SwiftBPFCommand.spec
        let folder = "/tmp/swiftbpf-pcap-test-\(getpid())"
        let capture = folder + ".pcap"
        // Two Ethernet frames: an IPv4 TCP one to port 80, and an ARP one.
        let tcp: [UInt8] =
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00, 0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]
            + [0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]
        let arp: [UInt8] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x06] + [UInt8](repeating: 0, count: 28)
        let bytes = PacketCapture.pcapBytes(packets: [.init(timestamp: 1, data: tcp), .init(timestamp: 2, data: arp)], linkType: 1, snapLength: 65535)
        #expect(writeFile(capture, bytes))
        defer {
            for name in ["accepted", "rejected"] { unlink(folder + "/\(name).pcap") }
            rmdir(folder)
            unlink(capture)
        }
        #expect(root.main(["pcap", capture]) != 0, "neither an object nor a filter")
        #expect(root.main(["pcap", "--filter", "tcp", "--cbpf", "/dev/null", capture]) != 0, "two programs")
        guard FilterCompiler.unavailableReason == nil else { return }
        #expect(root.main(["pcap", "--filter", "tcp port 80", capture, "--out-dir", folder, "--engine", "checked"]) == 0)
        let accepted = try PacketCapture.read(readFile(folder + "/accepted.pcap") ?? [])
        let rejected = try PacketCapture.read(readFile(folder + "/rejected.pcap") ?? [])
        #expect(accepted.packets.map(\.data) == [tcp] && rejected.packets.map(\.data) == [arp])
        #expect(root.main(["pcap", "--filter", "tcp port", capture]) != 0, "libpcap's refusal")
    }
}

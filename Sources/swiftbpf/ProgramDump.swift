import BPFCore
import BPFKernel
import BPFPlatform

/// `swiftbpf prog dump xlated|jited id N`: a loaded program's instructions as the kernel keeps
/// them, or its JIT image, printed as bpftool prints them.
struct ProgramDump {
    enum Kind: String, CaseIterable { case xlated, jited }

    var kind: Kind
    var arguments: ParsedArguments
    var opcodes: Bool
    var format: OutputFormat

    init(_ arguments: ParsedArguments) throws(UsageError) {
        guard let kind = Kind(rawValue: arguments.argument("what")) else {
            throw UsageError(
                command: arguments.command,
                message: "'\(arguments.argument("what"))': dump one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.kind = kind
        self.arguments = arguments
        opcodes = arguments.flag("opcodes")
        format = OutputFormat(arguments)
    }

    func run() throws {
        let fd = try descriptor(0, arguments, "prog dump")
        defer { close(fd) }
        do {
            switch kind {
            case .xlated: try translated(fd)
            case .jited: try jited(fd)
            }
        } catch { throw CLIError("prog dump: \(error)") }
    }

    /// One printed instruction: the function it starts (its prototype), the C line it starts,
    /// and its text.
    private struct Row {
        var prototype: String?
        var source: String?
        var text: String
        var bytes: [UInt8]
        var json: [(String, String)]
        /// bpftool's JSON of the bytes: an array of them, or for xlated instructions an object of
        /// their fields.
        var opcodesJSON: String
    }

    private static func bytesJSON(_ bytes: some Collection<UInt8>) -> String {
        "[" + bytes.map { JSON.string("0x" + hexString(CollectionOfOne($0))) }.joined(separator: ",") + "]"
    }

    private func translated(_ fd: Int32) throws(KernelError) {
        let instructions = try Inventory.contents(fd: fd).instructions
        let sources = Inventory.sourceLines(fd: fd), prototypes = Inventory.functionPrototypes(fd: fd)
        let symbols = Inventory.kernelSymbols()
        let callBase = symbols.first { $0.value == "__bpf_call_base" }?.key
        let functions = (try? Inventory.jitedImage(fd: fd).functions.map(\.address)) ?? []
        var rows: [Row] = []
        var i = 0
        while i < instructions.count {
            let insn = instructions[i]
            let next = insn.isWide && i + 1 < instructions.count ? instructions[i + 1] : nil
            var text = Disassembler.text(insn, next: next).replacing("map[fd:", with: "map[id:")
            // Helper calls: the kernel keeps the helper's address, relative to __bpf_call_base.
            if insn.opcode == 0x85, insn.src == 0, let callBase {
                let address = UInt64(bitPattern: Int64(bitPattern: callBase) + Int64(insn.imm))
                text = "call \(symbols[address] ?? "0x" + String(address, radix: 16))#\(insn.imm)"
            }
            // Calls of the program's own functions, once JIT-compiled: the kernel keeps the
            // function's index in imm and the original offset in off.
            if insn.opcode == 0x85, insn.src == 1, insn.imm >= 0, Int(insn.imm) < functions.count {
                let address = functions[Int(insn.imm)]
                text = "call pc\(insn.offset < 0 ? "" : "+")\(insn.offset)#\(symbols[address] ?? "0x" + String(address, radix: 16))"
            }
            text = "(\(hexString(CollectionOfOne(insn.opcode)))) " + text
            let bytes = insn.bytes + (next?.bytes ?? [])
            let opcodes = JSON.object([
                ("code", JSON.string("0x" + hexString(CollectionOfOne(insn.opcode)))), ("src_reg", JSON.string("0x\(String(insn.src, radix: 16))")),
                ("dst_reg", JSON.string("0x\(String(insn.dst, radix: 16))")), ("off", Self.bytesJSON(bytes[2..<4])), ("imm", Self.bytesJSON(bytes[4...])),
            ])
            rows.append(
                Row(
                    prototype: prototypes[i], source: sources[i], text: String(i).leftPadded(to: 4, with: " ") + ": " + text, bytes: bytes,
                    json: [("disasm", JSON.string(text))], opcodesJSON: opcodes))
            i += next == nil ? 1 : 2
        }
        emit(rows, functions: nil)
    }

    private func jited(_ fd: Int32) throws(KernelError) {
        let image = try Inventory.jitedImage(fd: fd)
        let disassembler: MachineCodeDisassembler
        do { disassembler = try MachineCodeDisassembler(.x86_64) } catch { throw .noSuchObject("the JIT image cannot be decoded: \(error)") }
        let symbols = Inventory.kernelSymbols()
        // The prototypes by function, in order (the first instruction of each).
        let prototypes = Inventory.functionPrototypes(fd: fd).sorted { $0.key < $1.key }.map(\.value)
        var functions: [(name: String, rows: [Row])] = []
        for (index, function) in image.functions.enumerated() {
            let code = Array(image.code[function.start..<min(function.start + function.length, image.code.count)])
            var rows: [Row] = []
            for line in disassembler.decode(code) {
                let mnemonic = line.text.prefix { $0 != " " }
                var operands = line.text.dropFirst(mnemonic.count).split(separator: ",").map { String($0.trimmingPrefix(" ")) }
                // LLVM shows a branch's displacement: show its target, in the function or the kernel (named).
                if mnemonic.hasPrefix("j") || mnemonic == "call", operands.count == 1, let displacement = Int64(operands[0]) {
                    let target = Int64(line.offset + line.bytes.count) + displacement
                    if (0...Int64(code.count)).contains(target) {
                        operands[0] = "0x" + String(target, radix: 16)
                    } else {
                        let address = UInt64(bitPattern: Int64(bitPattern: function.address) &+ target)
                        operands[0] = "0x" + String(address, radix: 16) + (symbols[address].map { " <\($0)>" } ?? "")
                    }
                }
                let text = operands.isEmpty ? String(mnemonic) : mnemonic + " " + operands.joined(separator: ", ")
                rows.append(
                    Row(
                        prototype: nil, source: image.sourceLines[function.address + UInt64(line.offset)],
                        text: String(line.offset, radix: 16).leftPadded(to: 4, with: " ") + ":\t" + text, bytes: line.bytes,
                        json: [
                            ("pc", JSON.string("0x" + String(line.offset, radix: 16))), ("operation", JSON.string(String(mnemonic))),
                            ("operands", "[" + operands.map(JSON.string).joined(separator: ",") + "]"),
                        ], opcodesJSON: Self.bytesJSON(line.bytes)))
            }
            if index < prototypes.count, !rows.isEmpty { rows[0].prototype = prototypes[index] }
            functions.append((symbols[function.address] ?? "0x" + String(function.address, radix: 16), rows))
        }
        emit([], functions: functions)
    }

    /// Prints the rows (or each function's, under its name) as text or bpftool's JSON.
    private func emit(_ rows: [Row], functions: [(name: String, rows: [Row])]?) {
        func object(_ row: Row) -> String {
            var fields: [(String, String)] = []
            if let prototype = row.prototype { fields.append(("proto", JSON.string(prototype))) }
            if let source = row.source { fields.append(("src", JSON.string(trimmed(source)))) }
            fields += row.json
            if opcodes { fields.append(("opcodes", row.opcodesJSON)) }
            return JSON.object(fields)
        }
        func text(_ row: Row, headed: Bool) {
            if headed, let prototype = row.prototype { print(prototype + ":") }
            if let source = row.source { print("; " + trimmed(source)) }
            print(row.text)
            if opcodes { print("       " + hexString(row.bytes, separator: " ")) }
        }
        if let functions {
            if format.json {
                let objects = functions.map { function in
                    JSON.object([("name", JSON.string(function.name)), ("insns", "[" + function.rows.map(object).joined(separator: ",") + "]")])
                }
                format.print("[" + objects.joined(separator: ",") + "]")
                return
            }
            for (index, function) in functions.enumerated() {
                if index > 0 { print() }
                if let prototype = function.rows.first?.prototype { print(prototype + ":") }
                print(function.name + ":")
                for row in function.rows { text(row, headed: false) }
            }
        } else if format.json {
            format.print("[" + rows.map(object).joined(separator: ",") + "]")
        } else {
            for row in rows { text(row, headed: true) }
        }
    }

    private func trimmed(_ source: String) -> String { String(source.trimmingPrefix(while: { $0 == " " || $0 == "\t" })) }
}

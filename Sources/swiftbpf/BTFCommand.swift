import BPFConformance
import BPFCore
import BPFObject
import BTF
import BPFKernel
import BPFPlatform

enum BTFCommand {
    static let spec = CommandSpec(
        "btf", abstract: "Inspect BTF type information.",
        subcommands: [
            CommandSpec("list", abstract: "List the kernel's BTF objects, like bpftool btf list.", parameters: OutputFormat.parameters) { arguments in
                if let reason = KernelSupport.unavailableReason { throw CLIError("btf list: \(reason)") }
                try show(try Inventory.btfs(), OutputFormat(arguments), list: true)
            },
            CommandSpec(
                "show", abstract: "Show one BTF object, like bpftool btf show id N.",
                parameters: [.argument("how", "id."), .argument("which", "The BTF object's id.")] + OutputFormat.parameters
            ) { arguments in
                if let reason = KernelSupport.unavailableReason { throw CLIError("btf show: \(reason)") }
                guard arguments.argument("how") == "id" else { throw CLIError("btf show: name a BTF object by id") }
                let fd: Int32
                do { fd = try Inventory.descriptor(kind: 3, selector: "id", arguments.argument("which")) } catch { throw CLIError("btf show: \(error)") }
                defer { close(fd) }
                guard let info = Inventory.btf(fd: fd) else { throw CLIError("btf show: the kernel says nothing of it") }
                try show([info], OutputFormat(arguments), list: false)
            },
            Dump.spec,
        ])

    /// bpftool's JSON object for a BTF object, with the programs and maps loaded with it.
    static func json(_ b: Inventory.BTFInfo, programs: [UInt32], maps: [UInt32]) -> String {
        var fields: [(String, String)] = [
            ("id", "\(b.id)"), ("size", "\(b.size)"), ("prog_ids", "[" + programs.map(String.init).joined(separator: ",") + "]"),
            ("map_ids", "[" + maps.map(String.init).joined(separator: ",") + "]"), ("kernel", "\(b.isKernel)"),
        ]
        if !b.name.isEmpty { fields.append(("name", JSON.string(b.name))) }
        return JSON.object(fields)
    }

    /// BTF objects with the programs and maps loaded with each, as bpftool prints them.
    private static func show(_ objects: [Inventory.BTFInfo], _ format: OutputFormat, list: Bool) throws {
        let programs = try Inventory.programs(), maps = try Inventory.maps()
        let rows = objects.map { b in
            (b, programs.filter { $0.btfID == b.id }.map(\.id), maps.filter { $0.btfID == b.id }.map(\.id))
        }
        if format.json {
            let objects = rows.map { json($0.0, programs: $0.1, maps: $0.2) }
            format.print(list ? "[" + objects.joined(separator: ",") + "]" : objects[0])
            return
        }
        for (b, progs, maps) in rows {
            var line = "\(b.id): \(b.name.isEmpty ? "" : "name [\(b.name)]  ")size \(b.size)B"
            if !progs.isEmpty { line += "  prog_ids \(progs.map(String.init).joined(separator: ","))" }
            if !maps.isEmpty { line += "  map_ids \(maps.map(String.init).joined(separator: ","))" }
            print(line)
        }
    }

    struct Dump {
        static let spec = CommandSpec(
            "dump",
            abstract: "Print the types of raw BTF (such as /sys/kernel/btf/vmlinux) or of an object's .BTF section.",
            discussion: """
                The output is bpftool's raw format ('bpftool btf dump file F'), or with --format c \
                a C header of every named type ('bpftool btf dump file F format c': vmlinux.h); with -j, \
                the raw format as bpftool -j prints it.
                """,
            parameters: [
                .argument("file", "Raw BTF, or an ELF object with a .BTF section; or 'id', for the kernel's BTF object of the id that follows."),
                .optionalArgument("id", "With 'id': the BTF object's id (as prog show and map show give it)."),
                .flag("summary", "Print only the number of types and the parse time."),
                .option("format", "raw (one line per type) or c (a C header).", default: "raw"),
                .option("output", short: "o", "Write to this file instead of standard output."),
            ] + OutputFormat.parameters
        ) { try Dump($0).run() }

        var file: String
        var id: UInt32?
        var summary: Bool
        var format: String
        var output: OutputFormat
        /// `--output`: the file to write instead of standard output.
        var path: String?

        /// Writes `text` to `--output`, or prints it.
        private func emit(_ text: String) throws {
            guard let path else { return print(text, terminator: "") }
            guard writeFile(path, Array(text.utf8)) else { throw CLIError("\(path): cannot write the file") }
        }

        init(_ arguments: ParsedArguments) throws(UsageError) {
            file = arguments.argument("file")
            summary = arguments.flag("summary")
            format = arguments.argument("format")
            output = OutputFormat(arguments)
            path = arguments.string("output")
            if path != nil, summary { throw UsageError(command: arguments.command, message: "--output takes the types; --summary prints a line") }
            guard format == "raw" || format == "c" else {
                throw UsageError(command: arguments.command, message: "--format: '\(format)' is not one of raw, c")
            }
            if output.json, summary || format == "c" {
                throw UsageError(command: arguments.command, message: "-j prints the raw format; it does not apply to \(summary ? "--summary" : "--format c")")
            }
            if let text = arguments.string("id") {
                guard file == "id", let id = UInt32(text) else {
                    throw UsageError(command: arguments.command, message: "give a file, or 'id N' for a BTF object in the kernel")
                }
                self.id = id
            } else if file == "id" {
                throw UsageError(command: arguments.command, message: "'id' needs the BTF object's id")
            }
        }

        func run() throws {
            var bytes: [UInt8]
            if let id {
                if let reason = KernelSupport.unavailableReason { throw CLIError("btf dump id \(id): \(reason)") }
                do { bytes = try KernelBTF.bytes(id: id) } catch { throw CLIError("btf dump id \(id): \(error)") }
            } else {
                guard let contents = readFile(file) else { throw CLIError("\(file): cannot read the file") }
                bytes = contents
            }
            var data = bytes
            if bytes.starts(with: [0x7f, 0x45, 0x4c, 0x46]) {
                let elf: ELFFile
                do { elf = try ELFFile(bytes: bytes) } catch { throw CLIError("\(file): \(error)") }
                guard let section = elf.section(named: ".BTF") else { throw CLIError("\(file): the object has no .BTF section (compile with -g)") }
                data = Array(elf.data(of: section))
            }
            let start = monotonicNanoseconds()
            let btf: BTF
            do { btf = try BTF(bytes: data) } catch { throw CLIError("\(file): \(error)") }
            let elapsed = monotonicNanoseconds() - start
            if summary {
                print("\(btf.types.count - 1) types, \(btf.strings.count) bytes of strings, parsed in \(format1(Double(elapsed) / 1e6)) ms")
            } else if format == "c" {
                try emit(btf.cHeader())
            } else if output.json {
                try emit((output.pretty ? JSON.indented(btf.rawDumpJSON()) : btf.rawDumpJSON()) + "\n")
            } else {
                try emit(btf.rawDump())
            }
        }
    }
}

import BPFCore
import BPFKernel
import BPFPlatform

/// `-j` (JSON) and `-p` (pretty JSON) as bpftool takes them: one JSON document a command.
struct OutputFormat {
    var json: Bool
    var pretty: Bool

    static let parameters: [Parameter] = [
        .flag("json", short: "j", "Print one JSON document, with bpftool's field names."),
        .flag("pretty", short: "p", "Print the JSON document indented (implies --json)."),
    ]

    init(_ arguments: ParsedArguments) {
        pretty = arguments.flag("pretty")
        json = pretty || arguments.flag("json")
    }

    /// Prints `value` (JSON text) when JSON was asked for, indented with `-p`.
    func print(_ value: String) { Swift.print(pretty ? JSON.indented(value) : value) }
}

/// The object named by `id N`, `pinned PATH` or `name NAME`, as a file descriptor.
private func descriptor(_ kind: Int32, _ arguments: ParsedArguments, _ command: String) throws -> Int32 {
    if let reason = KernelSupport.unavailableReason { throw CLIError("\(command): \(reason)") }
    do { return try Inventory.descriptor(kind: kind, selector: arguments.argument("how"), arguments.argument("which")) } catch {
        throw CLIError("\(command): \(error)")
    }
}

private let selectorParameters: [Parameter] = [
    .argument("how", "id, pinned or name."), .argument("which", "The id, the pinned path or the name."),
]

enum ProgCommand {
    static let spec = CommandSpec(
        "prog", abstract: "Programs loaded in the kernel.",
        subcommands: [
            CommandSpec("list", abstract: "List loaded programs, like bpftool prog list.", parameters: OutputFormat.parameters) {
                try listPrograms(OutputFormat($0))
            },
            CommandSpec(
                "show", abstract: "Show one loaded program, like bpftool prog show id N.",
                discussion:
                    "The program is named as bpftool names it: id N, pinned PATH or name NAME. Run counts and time appear while the kernel counts them (sysctl kernel.bpf_stats_enabled=1).",
                parameters: selectorParameters + OutputFormat.parameters
            ) { arguments in
                let fd = try descriptor(0, arguments, "prog show")
                defer { close(fd) }
                guard let info = Inventory.program(fd: fd) else { throw CLIError("prog show: the kernel says nothing of the program") }
                let mapIDs = (try? Inventory.contents(fd: fd).mapIDs) ?? []
                let format = OutputFormat(arguments)
                if format.json { format.print(json(info, mapIDs: mapIDs)) } else { printText(info, mapIDs: mapIDs) }
            },
            CommandSpec(
                "pin", abstract: "Pin a program in bpffs, like bpftool prog pin id N PATH.",
                parameters: selectorParameters + [.argument("path", "Where to pin it.")]
            ) {
                arguments in
                let fd = try descriptor(0, arguments, "prog pin")
                defer { close(fd) }
                do { try Pinning.pin(fd, at: arguments.argument("path")) } catch { throw CLIError("prog pin: \(error)") }
            },
            CommandSpec(
                "dump", abstract: "Print a loaded program's instructions, like bpftool prog dump xlated.",
                discussion:
                    "swiftbpf prog dump xlated id N prints the instructions as the kernel keeps them (after its rewrites), in the kernel's verifier-log syntax, maps by id.",
                parameters: [.argument("what", "xlated.")] + selectorParameters
            ) { arguments in
                guard arguments.argument("what") == "xlated" else {
                    throw CLIError("prog dump: '\(arguments.argument("what"))': only xlated instructions are dumped (jited ones: not yet)")
                }
                let fd = try descriptor(0, arguments, "prog dump")
                defer { close(fd) }
                let instructions: [Instruction]
                do { instructions = try Inventory.contents(fd: fd).instructions } catch { throw CLIError("prog dump: \(error)") }
                // The kernel's dump names maps by id where the program had their descriptors;
                // each C source line (from the program's BTF) before its first instruction.
                let sources = Inventory.sourceLines(fd: fd)
                let listing = Disassembler.listing(instructions).replacing("map[fd:", with: "map[id:").split(separator: "\n")
                for line in listing {
                    let index = Int(line.prefix { $0 != ":" }.trimmingPrefix(while: { $0 == " " }))
                    if let index, let source = sources[index] { print("; " + source.trimmingPrefix(while: { $0 == " " || $0 == "\t" })) }
                    print(line)
                }
            },
        ])

    static func listPrograms(_ format: OutputFormat) throws {
        if let reason = KernelSupport.unavailableReason { throw CLIError("prog list: \(reason)") }
        let programs = try Inventory.programs()
        if format.json {
            format.print("[" + programs.map { json($0, mapIDs: nil) }.joined(separator: ",") + "]")
            return
        }
        for p in programs { printText(p, mapIDs: nil) }
    }

    private static func printText(_ p: Inventory.ProgramInfo, mapIDs: [UInt32]?) {
        print("\(p.id): \(p.type.map { "\($0)" } ?? "unknown")  name \(p.name.isEmpty ? "-" : p.name)  tag \(p.tag)\(p.gplCompatible ? "  gpl" : "")")
        var second = "\tloaded_at \(loadedAt(p))  uid \(p.createdByUID)"
        if p.runCount > 0 { second += "  run_time_ns \(p.runTimeNanoseconds)  run_cnt \(p.runCount)" }
        print(second)
        var third = "\txlated \(p.translatedBytes)B  jited \(p.jitedBytes)B"
        if let mapIDs, !mapIDs.isEmpty { third += "  map_ids \(mapIDs.map(String.init).joined(separator: ","))" }
        if p.btfID != 0 { third += "  btf_id \(p.btfID)" }
        print(third)
    }

    /// bpftool's JSON object for a program.
    static func json(_ p: Inventory.ProgramInfo, mapIDs: [UInt32]?) -> String {
        var fields: [(String, String)] = [
            ("id", "\(p.id)"), ("type", JSON.string(p.type.map { "\($0)" } ?? "unknown")), ("name", JSON.string(p.name)), ("tag", JSON.string(p.tag)),
            ("gpl_compatible", "\(p.gplCompatible)"),
        ]
        if p.runCount > 0 { fields += [("run_time_ns", "\(p.runTimeNanoseconds)"), ("run_cnt", "\(p.runCount)")] }
        fields += [
            ("loaded_at", "\(loadedAt(p))"), ("uid", "\(p.createdByUID)"), ("bytes_xlated", "\(p.translatedBytes)"), ("jited", "\(p.jitedBytes > 0)"),
            ("bytes_jited", "\(p.jitedBytes)"),
        ]
        if let mapIDs { fields.append(("map_ids", "[" + mapIDs.map(String.init).joined(separator: ",") + "]")) }
        if p.btfID != 0 { fields.append(("btf_id", "\(p.btfID)")) }
        return JSON.object(fields)
    }

    /// The load time as seconds since the epoch (the kernel counts from boot).
    private static func loadedAt(_ p: Inventory.ProgramInfo) -> Int {
        var now = timespec(), boot = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        clock_gettime(CLOCK_BOOTTIME, &boot)
        let bootNanoseconds = (Int(now.tv_sec) - Int(boot.tv_sec)) * 1_000_000_000 + (Int(now.tv_nsec) - Int(boot.tv_nsec))
        return (bootNanoseconds + Int(p.loadTime)) / 1_000_000_000
    }
}

enum MapCommand {
    static let spec = CommandSpec(
        "map", abstract: "Maps in the kernel.",
        subcommands: [
            CommandSpec("list", abstract: "List maps, like bpftool map list.", parameters: OutputFormat.parameters) { try listMaps(OutputFormat($0)) },
            CommandSpec(
                "show", abstract: "Show one map, like bpftool map show id N (or pinned PATH, name NAME).",
                parameters: selectorParameters + OutputFormat.parameters
            ) { arguments in
                let fd = try descriptor(1, arguments, "map show")
                defer { close(fd) }
                guard let info = Inventory.map(fd: fd) else { throw CLIError("map show: the kernel says nothing of the map") }
                let format = OutputFormat(arguments)
                if format.json { format.print(json(info)) } else { printText(info) }
            },
            Dump.spec,
            CommandSpec(
                "lookup", abstract: "Print a map's value under a key, like bpftool map lookup id N key BYTES.",
                parameters: selectorParameters + [.option("key", "The key as hex bytes.")] + OutputFormat.parameters
            ) { arguments in
                let (map, key) = try keyed(arguments, "map lookup")
                guard let value = try map.lookup(key) else { throw CLIError("map lookup: no entry under key \(hexString(key, separator: " "))") }
                let format = OutputFormat(arguments)
                if format.json {
                    format.print(JSON.object([("key", bytesJSON(key)), ("value", bytesJSON(value))]))
                } else {
                    print("key: \(hexString(key, separator: " "))  value: \(hexString(value, separator: " "))")
                }
            },
            CommandSpec(
                "update", abstract: "Store a value under a key, like bpftool map update id N key BYTES value BYTES.",
                parameters: selectorParameters + [.option("key", "The key as hex bytes."), .option("value", "The value as hex bytes.")]
            ) { arguments in
                let (map, key) = try keyed(arguments, "map update")
                guard let text = arguments.string("value") else { throw CLIError("map update: --value is needed") }
                let value = try parseHexBytes(text)
                guard value.count == map.valueBufferSize else {
                    throw CLIError("map update: the value is \(value.count) bytes, the map's are \(map.valueBufferSize)")
                }
                do { try map.update(key, value) } catch { throw CLIError("map update: \(error)") }
            },
            CommandSpec(
                "delete", abstract: "Delete a key, like bpftool map delete id N key BYTES.",
                parameters: selectorParameters + [.option("key", "The key as hex bytes.")]
            ) {
                arguments in
                let (map, key) = try keyed(arguments, "map delete")
                do { try map.delete(key) } catch { throw CLIError("map delete: \(error)") }
            },
            CommandSpec(
                "pin", abstract: "Pin a map in bpffs, like bpftool map pin id N PATH.", parameters: selectorParameters + [.argument("path", "Where to pin it.")]
            ) {
                arguments in
                let fd = try descriptor(1, arguments, "map pin")
                defer { close(fd) }
                do { try Pinning.pin(fd, at: arguments.argument("path")) } catch { throw CLIError("map pin: \(error)") }
            },
        ])

    /// The map the arguments name, and the `--key` bytes (of the map's key size).
    private static func keyed(_ arguments: ParsedArguments, _ command: String) throws -> (KernelMap, [UInt8]) {
        let fd = try descriptor(1, arguments, command)
        let map: KernelMap
        do { map = try KernelMap(adopting: fd) } catch { throw CLIError("\(command): \(error)") }
        guard let text = arguments.string("key") else { throw CLIError("\(command): --key is needed") }
        let key = try parseHexBytes(text)
        guard key.count == map.definition.keySize else { throw CLIError("\(command): the key is \(key.count) bytes, the map's are \(map.definition.keySize)") }
        return (map, key)
    }

    static func bytesJSON(_ b: [UInt8]) -> String { "[" + b.map { JSON.string("0x" + hexString(CollectionOfOne($0))) }.joined(separator: ",") + "]" }

    static func listMaps(_ format: OutputFormat) throws {
        if let reason = KernelSupport.unavailableReason { throw CLIError("map list: \(reason)") }
        let maps = try Inventory.maps()
        if format.json {
            format.print("[" + maps.map(json).joined(separator: ",") + "]")
            return
        }
        maps.forEach(printText)
    }

    private static func printText(_ m: Inventory.MapInfo) {
        print("\(m.id): \(m.type)  name \(m.name.isEmpty ? "-" : m.name)  flags 0x\(String(m.flags.rawValue, radix: 16))")
        print("\tkey \(m.keySize)B  value \(m.valueSize)B  max_entries \(m.maxEntries)\(m.btfID != 0 ? "  btf_id \(m.btfID)" : "")")
    }

    /// bpftool's JSON object for a map.
    static func json(_ m: Inventory.MapInfo) -> String {
        var fields: [(String, String)] = [
            ("id", "\(m.id)"), ("type", JSON.string("\(m.type)")), ("name", JSON.string(m.name)), ("flags", "\(m.flags.rawValue)"),
            ("bytes_key", "\(m.keySize)"), ("bytes_value", "\(m.valueSize)"), ("max_entries", "\(m.maxEntries)"),
        ]
        if m.btfID != 0 { fields.append(("btf_id", "\(m.btfID)")) }
        return JSON.object(fields)
    }

    struct Dump {
        static let spec = CommandSpec(
            "dump",
            abstract: "Print every entry of a map, like bpftool map dump id ID.",
            discussion:
                "The map is named as bpftool names it (id N, pinned PATH, name NAME; a bare number is an id). A map created with BTF (as every map of an object with BTF is) prints each entry decoded through its types, as bpftool's formatted output; others, or with --hex, print key and value bytes. With -j, one JSON array of {key, value, formatted} objects, as bpftool -j prints it.",
            parameters: [
                .argument("how", "id, pinned or name (or the id itself)."), .optionalArgument("which", "The id, the pinned path or the name."),
                .flag("hex", "Print key and value bytes even when the map has BTF."),
            ] + OutputFormat.parameters
        ) { try Dump($0).run() }

        var arguments: ParsedArguments
        var hex: Bool
        var format: OutputFormat

        init(_ arguments: ParsedArguments) throws(UsageError) {
            self.arguments = arguments
            hex = arguments.flag("hex")
            format = OutputFormat(arguments)
            if hex, format.json { throw UsageError(command: arguments.command, message: "--hex prints bytes as text; -j prints them in JSON already") }
        }

        func run() throws {
            if let reason = KernelSupport.unavailableReason { throw CLIError("map dump: \(reason)") }
            let how = arguments.argument("how"), which = arguments.string("which")
            let fd: Int32
            do {
                fd = try which.map { try Inventory.descriptor(kind: 1, selector: how, $0) } ?? Inventory.descriptor(kind: 1, selector: "id", how)
            } catch { throw CLIError("map dump: \(error)") }
            let map: KernelMap
            do { map = try KernelMap(adopting: fd) } catch { throw CLIError("map dump: \(error)") }
            let btf = hex ? nil : try map.typeInformation()
            let typed = btf != nil && (map.definition.keyTypeID != 0 || map.definition.valueTypeID != 0)
            let entries = try map.entries()
            if format.json {
                let formatted = typed ? try map.formattedEntries(btf!) : []
                let objects = entries.enumerated().map { i, entry in
                    var fields = [("key", MapCommand.bytesJSON(entry.key)), ("value", MapCommand.bytesJSON(entry.value))]
                    if i < formatted.count { fields.append(("formatted", formatted[i])) }
                    return JSON.object(fields)
                }
                format.print("[" + objects.joined(separator: ",") + "]")
                return
            }
            if typed {
                try map.formattedEntries(btf!).forEach { print($0) }
            } else {
                for entry in entries { print("key: \(hexString(entry.key, separator: " "))  value: \(hexString(entry.value, separator: " "))") }
            }
            print("Found \(entries.count) element\(entries.count == 1 ? "" : "s")")
        }
    }
}

enum LinkCommand {
    static let spec = CommandSpec(
        "link", abstract: "Links in the kernel (programs attached to hooks).",
        subcommands: [
            CommandSpec("list", abstract: "List links, like bpftool link list.", parameters: OutputFormat.parameters) { arguments in
                if let reason = KernelSupport.unavailableReason { throw CLIError("link list: \(reason)") }
                let links = try Inventory.links()
                let format = OutputFormat(arguments)
                if format.json { format.print("[" + links.map(json).joined(separator: ",") + "]") } else { links.forEach(printText) }
            },
            CommandSpec(
                "show", abstract: "Show one link, like bpftool link show id N (or pinned PATH).", parameters: selectorParameters + OutputFormat.parameters
            ) {
                arguments in
                let fd = try descriptor(2, arguments, "link show")
                defer { close(fd) }
                guard let info = Inventory.link(fd: fd) else { throw CLIError("link show: the kernel says nothing of the link") }
                let format = OutputFormat(arguments)
                if format.json { format.print(json(info)) } else { printText(info) }
            },
            CommandSpec(
                "pin", abstract: "Pin a link in bpffs, like bpftool link pin id N PATH: it stays attached after this command.",
                parameters: selectorParameters + [.argument("path", "Where to pin it (in a bpffs mount).")]
            ) { arguments in
                let fd = try descriptor(2, arguments, "link pin")
                defer { close(fd) }
                do { try Pinning.pin(fd, at: arguments.argument("path")) } catch { throw CLIError("link pin: \(error)") }
            },
            CommandSpec("detach", abstract: "Detach a link from its hook, like bpftool link detach id N.", parameters: selectorParameters) { arguments in
                let fd = try descriptor(2, arguments, "link detach")
                defer { close(fd) }
                do { try Inventory.detachLink(fd: fd) } catch { throw CLIError("link detach: \(error)") }
            },
        ])

    private static func printText(_ l: Inventory.LinkInfo) { print("\(l.id): \(l.type)  prog \(l.programID)") }

    /// bpftool's JSON object for a link (its common fields).
    static func json(_ l: Inventory.LinkInfo) -> String {
        JSON.object([("id", "\(l.id)"), ("type", JSON.string("\(l.type)")), ("prog_id", "\(l.programID)")])
    }
}

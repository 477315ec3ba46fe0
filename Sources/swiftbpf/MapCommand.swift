import BPFCore
import BPFKernel
import BPFObject
import BPFPlatform

enum MapCommand {
    static let spec = CommandSpec(
        "map", abstract: "Maps in the kernel.",
        subcommands: [
            CommandSpec(
                "list", abstract: "List maps, like bpftool map list.",
                discussion: "With --runtime PATH, the maps of an application that embeds the userspace runtime and opened a DebugEndpoint at PATH.",
                parameters: OutputFormat.parameters + [runtimeParameter]
            ) { arguments in
                if try askRuntime(arguments, "map list") { return }
                try listMaps(OutputFormat(arguments))
            },
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
                "create", abstract: "Create a map and pin it, like bpftool map create PATH type TYPE key K value V entries N name NAME.",
                discussion:
                    "The map lives as long as its pin. An array or hash of maps needs --inner-map, a map (id N or pinned PATH) of the shape the maps it will hold have.",
                parameters: [
                    .argument("path", "Where to pin it (in a bpffs mount)."), .option("type", "The map type, as bpftool names it (hash, array, ...)."),
                    .option("key", "The key size in bytes."), .option("value", "The value size in bytes."),
                    .option("entries", "The maximum number of entries."), .option("name", "The map's name.", default: ""),
                    .option("flags", "The map flags (BPF_F_*), as a number.", default: "0"),
                    .option("inner-map", "For a map of maps: the template map, as 'id N' or 'pinned PATH'."),
                ]
            ) { try create($0) },
            CommandSpec(
                "pin", abstract: "Pin a map in bpffs, like bpftool map pin id N PATH.", parameters: selectorParameters + [.argument("path", "Where to pin it.")]
            ) {
                arguments in
                let fd = try descriptor(1, arguments, "map pin")
                defer { close(fd) }
                do { try Pinning.pin(fd, at: arguments.argument("path")) } catch { throw CLIError("map pin: \(error)") }
            },
        ])

    /// `map create`: the map the options describe, created and pinned.
    private static func create(_ arguments: ParsedArguments) throws {
        func usage(_ message: String) -> UsageError { UsageError(command: arguments.command, message: message) }
        func number(_ option: String) throws(UsageError) -> Int {
            guard let text = arguments.string(option) else { throw usage("--\(option) is needed") }
            guard let value = Int(text), value >= 0, value <= Int(UInt32.max) else { throw usage("--\(option): '\(text)' is not a count") }
            return value
        }
        guard let typeName = arguments.string("type") else { throw usage("--type is needed") }
        guard let type = MapType.names.first(where: { $0.value == typeName }).map({ MapType(rawValue: $0.key) }) else {
            throw usage(
                "--type: unknown map type '\(typeName)' (one of \(MapType.names.filter { $0.key != 0 }.sorted { $0.key < $1.key }.map(\.value).joined(separator: ", ")))"
            )
        }
        let (key, value, entries) = (try number("key"), try number("value"), try number("entries"))
        let flagsText = arguments.argument("flags")
        guard let flags = flagsText.hasPrefix("0x") ? UInt32(flagsText.dropFirst(2), radix: 16) : UInt32(flagsText) else {
            throw usage("--flags: '\(flagsText)' is not a number")
        }
        var definition = MapDefinition(
            name: arguments.argument("name"), type: type, keySize: key, valueSize: value, maxEntries: entries, flags: MapFlags(rawValue: flags),
            section: "", offset: 0)
        let holdsMaps = type == .arrayOfMaps || type == .hashOfMaps
        if let inner = arguments.string("inner-map") {
            guard holdsMaps else { throw usage("--inner-map: a \(type) map holds no maps") }
            let words = inner.split(separator: " ", maxSplits: 1).map(String.init)
            guard words.count == 2 else { throw usage("--inner-map: '\(inner)' is not 'id N' or 'pinned PATH'") }
            if let reason = KernelSupport.unavailableReason { throw CLIError("map create: \(reason)") }
            let template: Inventory.MapInfo
            do {
                let fd = try Inventory.descriptor(kind: 1, selector: words[0], words[1])
                defer { close(fd) }
                guard let info = Inventory.map(fd: fd) else { throw CLIError("map create: the kernel says nothing of the inner map") }
                template = info
            } catch let error as CLIError { throw error } catch { throw CLIError("map create: --inner-map: \(error)") }
            definition.inner = InnerMapShape(
                type: template.type, keySize: Int(template.keySize), valueSize: Int(template.valueSize), maxEntries: Int(template.maxEntries),
                flags: template.flags)
        } else if holdsMaps {
            throw usage("--inner-map is needed: a \(type) map holds maps of one shape")
        }
        if let reason = KernelSupport.unavailableReason { throw CLIError("map create: \(reason)") }
        do {
            let map = try KernelMap(definition)
            try Pinning.pin(map.fd, at: arguments.argument("path"))
        } catch { throw CLIError("map create: \(error)") }
    }

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

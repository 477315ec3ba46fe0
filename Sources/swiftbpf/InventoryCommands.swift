import BPFCore
import BPFKernel

enum ProgCommand {
    static let spec = CommandSpec(
        "prog", abstract: "Programs loaded in the kernel.",
        subcommands: [
            CommandSpec("list", abstract: "List loaded programs, like bpftool prog list.") { _ in try listPrograms() }
        ])

    static func listPrograms() throws {
        if let reason = KernelSupport.unavailableReason { throw CLIError("prog list: \(reason)") }
        for p in try Inventory.programs() {
            print("\(p.id): \(p.type.map { "\($0)" } ?? "unknown")  name \(p.name.isEmpty ? "-" : p.name)  tag \(p.tag)  uid \(p.createdByUID)")
            print("\txlated \(p.translatedBytes)B  jited \(p.jitedBytes)B  maps \(p.mapCount)\(p.btfID != 0 ? "  btf_id \(p.btfID)" : "")")
        }
    }
}

enum MapCommand {
    static let spec = CommandSpec(
        "map", abstract: "Maps in the kernel.",
        subcommands: [
            CommandSpec("list", abstract: "List maps, like bpftool map list.") { _ in try listMaps() },
            Dump.spec,
        ])

    static func listMaps() throws {
        if let reason = KernelSupport.unavailableReason { throw CLIError("map list: \(reason)") }
        for m in try Inventory.maps() {
            print("\(m.id): \(m.type)  name \(m.name.isEmpty ? "-" : m.name)  flags 0x\(String(m.flags.rawValue, radix: 16))")
            print("\tkey \(m.keySize)B  value \(m.valueSize)B  max_entries \(m.maxEntries)\(m.btfID != 0 ? "  btf_id \(m.btfID)" : "")")
        }
    }

    struct Dump {
        static let spec = CommandSpec(
            "dump",
            abstract: "Print every entry of a map, like bpftool map dump id ID.",
            discussion:
                "A map created with BTF (as every map of an object with BTF is) prints each entry as JSON decoded through its types, as bpftool's formatted output; others, or with --hex, print key and value bytes.",
            parameters: [
                .argument("id", "The map's id (from map list)."),
                .flag("hex", "Print key and value bytes even when the map has BTF."),
            ]
        ) { try Dump($0).run() }

        var id: UInt32
        var hex: Bool

        init(_ arguments: ParsedArguments) throws(UsageError) {
            guard let id = UInt32(arguments.argument("id")) else {
                throw UsageError(command: arguments.command, message: "'\(arguments.argument("id"))' is not a map id")
            }
            self.id = id
            hex = arguments.flag("hex")
        }

        func run() throws {
            if let reason = KernelSupport.unavailableReason { throw CLIError("map dump: \(reason)") }
            let map: KernelMap
            do { map = try KernelMap(id: id) } catch { throw CLIError("map dump \(id): \(error)") }
            let count: Int
            if !hex, let btf = try map.typeInformation(), map.definition.keyTypeID != 0 || map.definition.valueTypeID != 0 {
                let entries = try map.formattedEntries(btf)
                entries.forEach { print($0) }
                count = entries.count
            } else {
                let entries = try map.entries()
                for entry in entries { print("key: \(hexString(entry.key, separator: " "))  value: \(hexString(entry.value, separator: " "))") }
                count = entries.count
            }
            print("Found \(count) element\(count == 1 ? "" : "s")")
        }
    }
}

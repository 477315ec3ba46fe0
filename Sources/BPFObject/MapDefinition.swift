public import BPFCore
import BTF

/// A map an object declares: BTF-defined in `.maps` (`__uint(type, …)`, `__type(key, …)`) or
/// legacy `struct bpf_map_def` in `maps`.
public struct MapDefinition: Sendable, Equatable {
    /// The map's variable name.
    public var name: String
    /// `enum bpf_map_type`.
    public var type: MapType
    public var keySize: Int
    public var valueSize: Int
    public var maxEntries: Int
    public var flags: MapFlags
    /// The ELF section holding the definition and the symbol's offset in it.
    public var section: String
    public var offset: Int
    /// For global data (`.data`, `.rodata`, `.bss`): the single value's initial bytes.
    public var initialValue: [UInt8]? = nil
    /// Whether programs may only read it (`.rodata`).
    public var readOnly = false
    /// Where the value's `struct bpf_spin_lock` lies, when its BTF type has one.
    public var spinLockOffset: Int? = nil
    /// The key's and value's types in the object's BTF (0: none), given to the kernel with the
    /// map so it can check the value's layout (spin locks, timers) and print it.
    public var keyTypeID: UInt32 = 0
    public var valueTypeID: UInt32 = 0
    /// For an array or hash of maps: the shape of the maps it holds (`__array(values, struct
    /// {...})`).
    public var inner: InnerMapShape? = nil
    /// The `values` initialiser: what each slot holds at load (`.values = { [2] = &other_map }`,
    /// or a program for a program array), by slot index, as the symbol's name.
    public var initialSlots: [Int: String] = [:]

    package init(
        name: String, type: MapType, keySize: Int, valueSize: Int, maxEntries: Int, flags: MapFlags,
        section: String, offset: Int, initialValue: [UInt8]? = nil, readOnly: Bool = false
    ) {
        self.name = name
        self.type = type
        self.keySize = keySize
        self.valueSize = valueSize
        self.maxEntries = maxEntries
        self.flags = flags
        self.section = section
        self.offset = offset
        self.initialValue = initialValue
        self.readOnly = readOnly
    }
}

extension ObjectFile {
    /// Reads BTF-defined maps: each variable of the `.maps` data section is a struct whose
    /// members encode the attributes — `int (*type)[N]` for a number, `T *key` for a type.
    static func btfMaps(_ btf: BTF, elf: ELFFile) throws(ObjectError) -> [MapDefinition] {
        guard let section = elf.section(named: ".maps") else { return [] }
        guard let datasec = btf.typeID(named: ".maps", where: { if case .dataSection = $0 { true } else { false } }),
            case let .dataSection(_, variables) = btf.types[datasec].kind
        else {
            throw ObjectError(section: ".maps", "the object's BTF has no .maps data section describing its maps")
        }
        var maps: [MapDefinition] = []
        for placement in variables {
            guard case let .variable(structType, _) = btf.type(placement.type)?.kind else {
                throw ObjectError(section: ".maps", "entry at offset \(placement.offset) is not a variable")
            }
            let name = btf.name(ofType: Int(placement.type))
            guard case let .structure(_, members) = btf.resolvedKind(structType) else {
                throw ObjectError(section: ".maps", "map '\(name)' is not defined by a struct")
            }
            var map = MapDefinition(
                name: name, type: .unspec, keySize: 0, valueSize: 0, maxEntries: 0, flags: [], section: section.name, offset: Int(placement.offset))
            var valuesOffset: Int?
            try readAttributes(members, of: name, into: &map, btf: btf, valuesOffset: &valuesOffset)
            if let valuesOffset {
                // As libbpf: a map declared by the maps or programs it holds stores their
                // descriptors, 4 bytes each.
                if map.valueSize == 0 { map.valueSize = 4 }
                // Slots the object fills: relocations inside the `values` array, 8 bytes a slot.
                // Where the definition lies is its symbol's value (clang leaves the data section's
                // offsets 0); the array is flexible: its entries run to the next definition.
                let definitions = elf.symbols.filter { Int($0.sectionIndex) == section.index && $0.type == 1 }
                let base = Int(truncatingIfNeeded: definitions.first { $0.name == name }?.value ?? UInt64(placement.offset))
                let start = base + valuesOffset
                let end = definitions.map { Int(truncatingIfNeeded: $0.value) }.filter { $0 > base }.min() ?? section.size
                for relocation in try elf.relocations(for: section.index) {
                    let at = Int(truncatingIfNeeded: relocation.offset)
                    guard at >= start, at < end, (at - start) % 8 == 0, relocation.symbol < elf.symbols.count else { continue }
                    map.initialSlots[(at - start) / 8] = elf.symbols[relocation.symbol].name
                }
            }
            maps.append(map)
        }
        return maps
    }

    /// A BTF map definition's members (`__uint`, `__type`, `__array(values, …)`) into `map`; an
    /// inner map's definition the same way. `valuesOffset` gets the byte offset of `values`.
    private static func readAttributes(
        _ members: [BTFType.Member], of name: String, into map: inout MapDefinition, btf: BTF, valuesOffset: inout Int?, depth: Int = 0
    ) throws(ObjectError) {
        for member in members {
            let field = btf.name(member.nameOffset)
            if field == "values" {
                valuesOffset = Int(member.bitOffset / 8)
                // __array(values, struct {...}): the maps it holds are defined by that struct.
                guard depth == 0, case let .array(element, _, _) = btf.resolvedKind(member.type),
                    case let .pointer(to) = btf.resolvedKind(element), case let .structure(_, innerMembers) = btf.resolvedKind(to)
                else { continue }
                var inner = MapDefinition(name: name + ".inner", type: .unspec, keySize: 0, valueSize: 0, maxEntries: 0, flags: [], section: "", offset: 0)
                var unused: Int?
                try readAttributes(innerMembers, of: name + ".inner", into: &inner, btf: btf, valuesOffset: &unused, depth: depth + 1)
                map.inner = InnerMapShape(
                    type: inner.type, keySize: inner.keySize, valueSize: inner.valueSize, maxEntries: inner.maxEntries, flags: inner.flags,
                    spinLockOffset: inner.spinLockOffset)
                continue
            }
            guard case let .pointer(target) = btf.resolvedKind(member.type) else {
                throw ObjectError(section: ".maps", "map '\(name)' attribute '\(field)' is not encoded as a pointer")
            }
            // __uint(field, N) is int (*field)[N]; __type(field, T) is T *field.
            var number: Int? {
                if case let .array(_, _, count) = btf.resolvedKind(target) { return Int(count) }
                return nil
            }
            switch field {
            case "type": map.type = MapType(rawValue: UInt32(number ?? 0))
            case "max_entries": map.maxEntries = number ?? 0
            case "map_flags": map.flags = MapFlags(rawValue: UInt32(number ?? 0))
            case "key_size": map.keySize = number ?? 0
            case "value_size": map.valueSize = number ?? 0
            case "key", "value":
                guard let size = btf.size(of: target) else {
                    throw ObjectError(section: ".maps", "map '\(name)': the \(field) type has no size")
                }
                if field == "key" {
                    (map.keySize, map.keyTypeID) = (size, target)
                } else {
                    (map.valueSize, map.valueTypeID) = (size, target)
                    map.spinLockOffset = Self.spinLockOffset(in: target, btf)
                }
            default: break  // pinning, numa_node: not interpreted
            }
        }
    }

    /// The byte offset of a top-level `struct bpf_spin_lock` member of type `type`, if any.
    static func spinLockOffset(in type: UInt32, _ btf: BTF) -> Int? {
        guard case let .structure(_, members) = btf.resolvedKind(type) else { return nil }
        for member in members {
            let id = btf.resolved(member.type)  // through typedefs and qualifiers
            if case .structure = btf.type(id)?.kind, btf.name(ofType: Int(id)) == "bpf_spin_lock" { return Int(member.bitOffset / 8) }
        }
        return nil
    }

    /// Global data sections as single-entry array maps whose value is the section, the way
    /// libbpf backs `.data`, `.rodata` and `.bss` (and `.data.*`, `.rodata.*`).
    static func globalDataMaps(elf: ELFFile) -> [MapDefinition] {
        elf.sections.filter { isGlobalData($0) && $0.size > 0 }.map { section in
            MapDefinition(
                name: section.name, type: .array, keySize: 4, valueSize: section.size, maxEntries: 1, flags: [],
                section: section.name, offset: 0,
                initialValue: section.isNoBits ? [UInt8](repeating: 0, count: section.size) : Array(elf.data(of: section)),
                readOnly: section.name.hasPrefix(".rodata"))
        }
    }

    static func isGlobalData(_ section: ELFFile.Section) -> Bool {
        let name = section.name
        return !section.isExecutable
            && (name == ".data" || name == ".bss" || name == ".rodata"
                || name.hasPrefix(".data.") || name.hasPrefix(".rodata.") || name.hasPrefix(".bss."))
    }

    /// Reads legacy `struct bpf_map_def` entries (type, key size, value size, max entries,
    /// flags) from the `maps` section, named by their symbols.
    static func legacyMaps(elf: ELFFile) throws(ObjectError) -> [MapDefinition] {
        guard let section = elf.section(named: "maps") else { return [] }
        let data = Array(elf.data(of: section))
        let symbols = elf.symbols.filter { Int($0.sectionIndex) == section.index && $0.type == 1 }
        return try symbols.map { (symbol) throws(ObjectError) -> MapDefinition in
            let at = Int(truncatingIfNeeded: symbol.value)
            guard at >= 0, at % 4 == 0, at <= data.count - 20 else {
                throw ObjectError(section: "maps", offset: at, "map '\(symbol.name)' runs past the section")
            }
            func field(_ i: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(data[at + 4 * i + $1]) << (8 * $1) } }
            return MapDefinition(
                name: symbol.name, type: MapType(rawValue: field(0)), keySize: Int(field(1)), valueSize: Int(field(2)),
                maxEntries: Int(field(3)), flags: MapFlags(rawValue: field(4)), section: "maps", offset: at)
        }
    }
}

extension MapDefinition {
    /// The map's shape, with ``MapFlags/readOnlyToPrograms`` added for read-only global data.
    public var shape: MapShape {
        MapShape(
            type: type, keySize: keySize, valueSize: valueSize, maxEntries: maxEntries,
            flags: readOnly ? flags.union(.readOnlyToPrograms) : flags, spinLockOffset: spinLockOffset, inner: inner)
    }
}

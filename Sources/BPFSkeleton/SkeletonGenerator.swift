public import BPFObject
import BPFCore
import BTF

/// Why a skeleton could not be generated.
public struct SkeletonError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// `swiftbpf gen skeleton`: Swift source for one object — the object's bytes embedded, a struct
/// for every BTF type its maps, global variables and the types asked for use (fields as
/// computed properties over the value's bytes, at BTF's offsets, so the layout is BTF's by
/// construction and a generated check compares it with the embedded object), typed maps,
/// programs by name, `.rodata` settable before load and `.data`/`.bss` after, `load(on:)`
/// for either backend, and `attachAll()`.
public struct SkeletonGenerator {
    private let object: ObjectFile
    private let bytes: [UInt8]
    private let name: String
    private let source: String
    private let extraTypes: [String]
    private let btf: BTF
    /// Whether the object's bytes are embedded (`init()`); without them the skeleton is opened
    /// with `init(objectBytes:)` on a build of the same program.
    public var embedsObject = true

    /// A generator for `object` (whose file is `bytes`, named `source` in comments), making a
    /// type named `name`; `extraTypes` names BTF types to generate besides those the maps and
    /// globals use (a ring buffer's event struct, as `bpf2go -type` takes them).
    public init(object: ObjectFile, bytes: [UInt8], name: String, source: String, extraTypes: [String] = []) throws(SkeletonError) {
        // Data sections sized and their variables placed, as libbpf and the kernel see them.
        let fixed: BTF?
        do { fixed = try object.loadableBTF(skippingAbsentSections: true) } catch { throw SkeletonError(description: "\(source): \(error)") }
        guard let btf = fixed else { throw SkeletonError(description: "\(source): the object has no BTF (compile with -g)") }
        guard !object.programs.isEmpty else { throw SkeletonError(description: "\(source): the object has no programs") }
        (self.object, self.bytes, self.name, self.source, self.extraTypes, self.btf) = (object, bytes, SwiftNames.type(name), source, extraTypes, btf)
    }

    // MARK: - Types

    /// A Swift type for BTF type `id`: a standard one (`UInt32`, `Bool`, `Double`) or a generated
    /// struct's name; nil for what has no value type (void, functions, arrays).
    private struct TypeTable {
        let btf: BTF
        var names: [UInt32: String] = [:]
        var declarations: [String] = []
        var layouts: [String] = []
        var scope = NameScope(reserved: ["Program", "Loaded", "ObjectFile", "BPFValue", "BPFLayout", "TypedMap"])
        var pending: [UInt32] = []

        mutating func valueType(_ id: UInt32, naming hint: String? = nil, depth: Int = 0) -> String? {
            guard depth < 32 else { return nil }  // a typedef cycle in malformed BTF
            let stripped = strippedModifiers(id)
            guard let type = btf.type(stripped) else { return nil }
            switch type.kind {
            case let .int(size, encoding, _, _):
                if encoding & 4 != 0, size == 1 { return "Bool" }
                let signed = encoding & 1 != 0 || encoding & 2 != 0
                switch size {
                case 1: return signed ? "Int8" : "UInt8"
                case 2: return signed ? "Int16" : "UInt16"
                case 4: return signed ? "Int32" : "UInt32"
                case 8: return signed ? "Int64" : "UInt64"
                default: return opaque(stripped, hint: hint)
                }
            case let .float(size): return size == 4 ? "Float" : size == 8 ? "Double" : opaque(stripped, hint: hint)
            case .pointer: return "UInt64"
            case let .typedef(target):
                let cName = btf.name(type.nameOffset)
                let targetID = strippedModifiers(target)
                if let named = btf.type(targetID), named.nameOffset == 0, isAggregate(named.kind) {
                    return generated(targetID, cName: cName)
                }
                return valueType(target, naming: hint ?? cName, depth: depth + 1)
            case .structure, .union, .enumeration, .enumeration64:
                return generated(stripped, cName: type.nameOffset == 0 ? nil : btf.name(type.nameOffset), hint: hint)
            case .array: return opaque(stripped, hint: hint)
            case .dataSection: return generated(stripped, cName: btf.name(type.nameOffset))
            default: return nil
            }
        }

        func strippedModifiers(_ id: UInt32) -> UInt32 {
            var current = id
            for _ in 0..<32 {
                switch btf.type(current)?.kind {
                case let .volatile(t), let .const(t), let .restrict(t), let .typeTag(t): current = t
                default: return current
                }
            }
            return current
        }

        private func isAggregate(_ kind: BTFType.Kind) -> Bool {
            switch kind {
            case .structure, .union, .enumeration, .enumeration64: true
            default: false
            }
        }

        /// The generated struct for aggregate (or enum) `id`, emitted on first use.
        private mutating func generated(_ id: UInt32, cName: String?, hint: String? = nil) -> String {
            if let known = names[id] { return known }
            let swiftName = scope.claim(SwiftNames.type(cName ?? hint ?? "anonymous"))
            names[id] = swiftName
            pending.append(id)
            return swiftName
        }

        /// A struct over the raw bytes of a type with no Swift counterpart (an array, a 128-bit
        /// integer), so maps keyed by it are still typed.
        private mutating func opaque(_ id: UInt32, hint: String?) -> String {
            generated(id, cName: nil, hint: (hint ?? "bytes") + "_value")
        }
    }

    public func generate() throws(SkeletonError) -> String {
        var table = TypeTable(btf: btf)
        // Maps: typed where the key and value map to value types.
        struct MapEntry {
            var name: String, property: String, definition: MapDefinition, key: String?, value: String?
        }
        var mapScope = NameScope(reserved: ["object", "program", "attachAll", "init"])
        var maps: [MapEntry] = []
        var globals: [(map: MapDefinition, type: String, property: String)] = []
        for definition in object.maps where definition.section != ".kconfig" {
            if definition.initialValue != nil {
                // Global data: a struct of the section's variables.
                guard definition.valueTypeID != 0, let sectionType = btf.type(definition.valueTypeID), case let .dataSection(_, variables) = sectionType.kind,
                    !variables.isEmpty
                else { continue }
                let type = table.valueType(definition.valueTypeID, naming: definition.name) ?? ""
                globals.append((definition, type, SwiftNames.member(definition.name)))
                continue
            }
            let key = definition.keyTypeID != 0 ? table.valueType(definition.keyTypeID, naming: definition.name + "_key") : nil
            let value = definition.valueTypeID != 0 ? table.valueType(definition.valueTypeID, naming: definition.name + "_value") : nil
            maps.append(
                MapEntry(name: definition.name, property: mapScope.claim(SwiftNames.member(definition.name)), definition: definition, key: key, value: value))
        }
        for extra in extraTypes {
            guard
                let id = btf.typeID(
                    named: extra,
                    where: { kind in
                        switch kind {
                        case .structure, .union, .enumeration, .enumeration64, .typedef: true
                        default: false
                        }
                    })
            else { throw SkeletonError(description: "\(source): no type named '\(extra)' in the object's BTF") }
            _ = table.valueType(UInt32(id))
        }
        // Emit every type reached, including those their fields reach.
        while let id = table.pending.first {
            table.pending.removeFirst()
            emitType(id, into: &table)
        }

        var out = "// Generated by `swiftbpf gen skeleton \(source)`; do not edit.\n// swift-format-ignore-file\n\npublic import SwiftBPF\n\n"
        let programs = object.programs.map(\.name)
        out += "/// The eBPF object `\(source)`: programs \(programs.map { "`\($0)`" }.joined(separator: ", "))"
        out += maps.isEmpty ? "" : "; maps \(maps.map { "`\($0.name)`" }.joined(separator: ", "))"
        out += ". Open it with `\(embedsObject ? "init()" : "init(objectBytes:)")`, set `.rodata` values, then `load(on:)` either backend.\n"
        out += "public struct \(name): Sendable {\n"
        if embedsObject {
            out += "    /// The object file, embedded.\n"
            out += "    public static let objectBytes: [UInt8] = BPFLayout.base64(\n        \"\"\"\n"
            let encoded = Self.base64(bytes)
            var index = encoded.startIndex
            while index < encoded.endIndex {
                let end = encoded.index(index, offsetBy: 96, limitedBy: encoded.endIndex) ?? encoded.endIndex
                out += "        " + encoded[index..<end] + "\n"
                index = end
            }
            out += "        \"\"\")\n\n"
        }
        out += "    /// The parsed object, as `load(on:)` will load it (with the `.rodata` values set).\n"
        out += "    public private(set) var file: ObjectFile\n\n"
        if embedsObject {
            out += "    /// Parses the embedded object.\n"
            out += "    public init() throws(BPFError) { try self.init(objectBytes: Self.objectBytes) }\n\n"
        }
        out += "    /// Parses `bytes`, a build of the object this skeleton was made from (check it with `layoutMismatches()`).\n"
        out +=
            "    public init(objectBytes bytes: [UInt8]) throws(BPFError) {\n        do { file = try ObjectFile(bytes: bytes) } catch { throw .object(error) }\n    }\n\n"
        for global in globals where global.map.readOnly {
            let section = global.map.name
            out += "    /// `\(section)`: the object's `const volatile` globals, read when the programs load.\n"
            out += "    public var \(SwiftNames.declared(global.property)): \(global.type) {\n"
            out += "        \(global.type)(bpfBytes: file.maps.first { $0.name == \"\(section)\" }?.initialValue ?? [])\n    }\n\n"
            out += "    /// Sets `\(section)` before `load(on:)`.\n"
            out += "    public mutating func set\(SwiftNames.type(global.property))(_ value: \(global.type)) throws(BPFError) {\n"
            out += "        do { try file.setInitialValue(ofMap: \"\(section)\", to: value.bpfBytes) } catch { throw .object(error) }\n    }\n\n"
        }
        out += "    /// Creates the maps on `backend`; the programs load when first asked for.\n"
        out += "    public func load(on backend: Backend, options: LoadOptions = LoadOptions()) throws(BPFError) -> Loaded {\n"
        out += "        try Loaded(try OpenedObject(file).load(on: backend, options: options))\n    }\n\n"
        out += "    /// The object's programs.\n    public enum Program: String, CaseIterable, Sendable {\n"
        var programScope = NameScope()
        for program in programs { out += "        case \(SwiftNames.declared(programScope.claim(SwiftNames.member(program)))) = \"\(program)\"\n" }
        out += "    }\n\n"
        out += "    /// The object on a backend: its maps, typed, and its programs.\n    public final class Loaded {\n"
        out += "        /// The loaded object underneath.\n        public let object: any LoadedObject\n"
        for map in maps {
            let type = map.key.flatMap { key in map.value.map { "TypedMap<\(key), \($0)>" } } ?? "any LoadedMap"
            out += "        /// Map `\(map.name)` (\(map.definition.type), \(map.definition.maxEntries) entries).\n"
            out += "        public let \(SwiftNames.declared(map.property)): \(type)\n"
        }
        out += "\n        init(_ object: any LoadedObject) throws(BPFError) {\n            self.object = object\n"
        for map in maps {
            let found = "try object.map(named: \"\(map.name)\")"
            out += "            \(SwiftNames.declared(map.property)) = \(map.key != nil && map.value != nil ? "TypedMap(\(found))" : found)\n"
        }
        out += "        }\n\n"
        for map in maps where map.definition.type == .ringbuf || map.definition.type == .perfEventArray {
            let kind = map.definition.type == .ringbuf ? "ring buffer" : "perf event array"
            out += "        /// The records of \(kind) `\(map.name)` as `Event` values (`for await`, or `drain()`).\n"
            out += "        public func \(map.property)Records<Event: BPFValue>(as type: Event.Type = Event.self) throws(BPFError) -> MapEvents<Event> {\n"
            let typed = map.key != nil && map.value != nil
            out += "            try MapEvents(\(SwiftNames.declared(map.property))\(typed ? ".map" : ""))\n        }\n\n"
        }
        out += "        /// A program, loaded on first use.\n"
        out += "        public func program(_ program: Program) throws(BPFError) -> any LoadedProgram { try object.program(named: program.rawValue) }\n\n"
        out += "        /// Every program attached where its section says, in the object's order.\n"
        out += "        public func attachAll(_ options: AttachOptions = AttachOptions()) throws(BPFError) -> [any BPFLink] {\n"
        out +=
            "            var links: [any BPFLink] = []\n            for program in Program.allCases { links.append(try self.program(program).attach(options)) }\n            return links\n        }\n"
        for global in globals where !global.map.readOnly {
            let section = global.map.name, property = SwiftNames.type(global.property)
            out += "\n        /// `\(section)`'s globals as the programs left them.\n"
            out += "        public func \(global.property.first!.lowercased() + global.property.dropFirst())() throws(BPFError) -> \(global.type) {\n"
            out += "            \(global.type)(bpfBytes: try object.map(named: \"\(section)\").lookup([0, 0, 0, 0]) ?? [])\n        }\n\n"
            out += "        /// Writes `\(section)`'s globals.\n"
            out += "        public func set\(property)(_ value: \(global.type)) throws(BPFError) {\n"
            out += "            try object.map(named: \"\(section)\").update([0, 0, 0, 0], value.bpfBytes)\n        }\n"
        }
        out += "    }\n\n"
        out += "    /// Each generated type's size and member offsets set against the object's BTF: what\n"
        out += "    /// differs (nothing, unless the object and this file disagree).\n"
        out += "    public func layoutMismatches() -> [String] {\n"
        out += "        BPFLayout.mismatches(in: file, [\n" + table.layouts.map { "            " + $0 + ",\n" }.joined() + "        ])\n    }\n"
        if embedsObject {
            out += "\n    /// ``layoutMismatches()`` of the embedded object.\n"
            out += "    public static func layoutMismatches() -> [String] {\n"
            out += "        guard let skeleton = try? Self() else { return [\"the embedded object does not parse\"] }\n"
            out += "        return skeleton.layoutMismatches()\n    }\n"
        }
        out += "}\n"
        for declaration in table.declarations { out += "\nextension \(name) {\n" + declaration + "}\n" }
        return out
    }

    // MARK: - One type

    private func emitType(_ id: UInt32, into table: inout TypeTable) {
        guard let type = btf.type(id), let swiftName = table.names[id] else { return }
        let size = btf.size(of: id) ?? 0
        var text = ""
        let cName = type.nameOffset == 0 ? "(anonymous)" : btf.name(type.nameOffset)
        switch type.kind {
        case let .enumeration(_, signed, values), let .enumeration64(_, signed, values):
            let raw =
                size == 8
                ? (signed ? "Int64" : "UInt64")
                : size == 2 ? (signed ? "Int16" : "UInt16") : size == 1 ? (signed ? "Int8" : "UInt8") : (signed ? "Int32" : "UInt32")
            text += "    /// `enum \(cName)`.\n    public struct \(swiftName): BPFValue, RawRepresentable, Hashable, Sendable {\n"
            text += "        public static var byteCount: Int { \(size) }\n        public var rawValue: \(raw)\n"
            text += "        public init(rawValue: \(raw)) { self.rawValue = rawValue }\n"
            text += "        public init(bpfBytes bytes: ArraySlice<UInt8>) { rawValue = \(raw)(bpfBytes: bytes) }\n"
            text += "        public var bpfBytes: [UInt8] { rawValue.bpfBytes }\n"
            var scope = NameScope(reserved: ["rawValue", "byteCount", "bpfBytes"])
            for value in values {
                let constant = scope.claim(SwiftNames.member(btf.name(value.nameOffset)))
                let literal =
                    signed
                    ? String(raw == "Int64" ? Int64(bitPattern: value.value) : Int64(Int32(truncatingIfNeeded: value.value)))
                    : String(raw == "UInt64" ? value.value : UInt64(UInt32(truncatingIfNeeded: value.value)))
                text += "        public static let \(SwiftNames.declared(constant)) = \(swiftName)(rawValue: \(literal))\n"
            }
            text += "    }\n"
            table.declarations.append(text)
            return
        default: break
        }
        let isStruct: Bool
        switch type.kind {
        case .structure: isStruct = true
        case .union: isStruct = false
        case let .dataSection(_, variables):
            // Global variables: each at its offset in the section's single value.
            text += Self.valueStruct(swiftName, size: size, doc: "The globals of `\(cName)` (\(size) bytes): each variable at its offset in ``bpfBytes``.")
            var scope = NameScope(reserved: ["byteCount", "bpfBytes", "init"])
            var layout: [String] = []
            for variable in variables {
                guard let declaration = btf.type(variable.type), case let .variable(varType, _) = declaration.kind else { continue }
                let varName = btf.name(declaration.nameOffset)
                layout.append("(\"\(varName)\", \(variable.offset * 8))")
                emitField(
                    cName: varName, type: varType, bits: Int(variable.offset) * 8, bitfieldSize: 0, parent: swiftName, scope: &scope, table: &table,
                    text: &text)
            }
            text += "    }\n"
            table.declarations.append(text)
            table.layouts.append("(\(id), \"\(swiftName)\", \(size), [\(layout.joined(separator: ", "))])")
            return
        default:
            // Opaque: an array or a type with no Swift counterpart, as bytes.
            text += Self.valueStruct(swiftName, size: size, doc: "The bytes of a `\(cName)` value (\(size) bytes), which has no Swift counterpart.")
            if case let .array(element, _, count) = type.kind, let elementType = table.valueType(element), let stride = btf.size(of: element), stride > 0 {
                text += "        /// The array's elements.\n        public var elements: [\(elementType)] {\n"
                text += "            get { BPFLayout.readArray(bpfBytes, at: 0, count: \(count), stride: \(stride)) }\n"
                text += "            set { BPFLayout.writeArray(newValue, into: &bpfBytes, at: 0, count: \(count), stride: \(stride)) }\n        }\n"
            }
            text += "    }\n"
            table.declarations.append(text)
            return
        }
        text += Self.valueStruct(
            swiftName, size: size, doc: "`\(isStruct ? "struct" : "union") \(cName)` (\(size) bytes): each field at BTF's offset in ``bpfBytes``.")
        var scope = NameScope(reserved: ["byteCount", "bpfBytes", "init"])
        var layout: [String] = []
        emitMembers(of: id, base: 0, parent: swiftName, scope: &scope, table: &table, text: &text, layout: &layout, top: true)
        text += "    }\n"
        table.declarations.append(text)
        table.layouts.append("(\(id), \"\(swiftName)\", \(size), [\(layout.joined(separator: ", "))])")
    }

    /// Accessors for the members of aggregate `id` at bit `base`; an unnamed member of struct or
    /// union type has its own members flattened in, as C reaches them.
    private func emitMembers(
        of id: UInt32, base: Int, parent: String, scope: inout NameScope, table: inout TypeTable, text: inout String, layout: inout [String], top: Bool,
        depth: Int = 0
    ) {
        guard depth < 16, let type = btf.type(id) else { return }
        let members: [BTFType.Member]
        switch type.kind {
        case let .structure(_, list), let .union(_, list): members = list
        default: return
        }
        for member in members {
            let bits = base + Int(member.bitOffset)
            let cName = btf.name(member.nameOffset)
            if top { layout.append("(\"\(cName)\", \(member.bitOffset))") }
            let memberType = table.strippedModifiers(btf.resolved(member.type))
            if cName.isEmpty {
                if let kind = btf.type(memberType)?.kind, case .structure = kind {
                    emitMembers(
                        of: memberType, base: bits, parent: parent, scope: &scope, table: &table, text: &text, layout: &layout, top: false, depth: depth + 1)
                } else if let kind = btf.type(memberType)?.kind, case .union = kind {
                    emitMembers(
                        of: memberType, base: bits, parent: parent, scope: &scope, table: &table, text: &text, layout: &layout, top: false, depth: depth + 1)
                }
                continue
            }
            emitField(
                cName: cName, type: member.type, bits: bits, bitfieldSize: Int(member.bitfieldSize), parent: parent, scope: &scope, table: &table,
                text: &text)
        }
    }

    /// The accessor of one field named `cName` of BTF type `type` at bit `bits`.
    private func emitField(
        cName: String, type: UInt32, bits: Int, bitfieldSize: Int, parent: String, scope: inout NameScope, table: inout TypeTable, text: inout String
    ) {
        let memberType = table.strippedModifiers(btf.resolved(type))
        let property = SwiftNames.declared(scope.claim(SwiftNames.member(cName)))
        let comment = "        /// `\(cName)`, at byte \(bits / 8)\(bits % 8 == 0 ? "" : " bit \(bits % 8)").\n"
        // Bitfields, and fields off a byte boundary: as integers, bit by bit.
        if bitfieldSize > 0 || bits % 8 != 0 {
            let width = bitfieldSize > 0 ? bitfieldSize : (btf.size(of: memberType) ?? 0) * 8
            let swiftType =
                table.valueType(memberType).flatMap {
                    ["Bool", "Int8", "UInt8", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64"].contains($0) ? $0 : nil
                } ?? "UInt64"
            text += "        /// `\(cName)`, \(width) bits at byte \(bits / 8) bit \(bits % 8).\n"
            if swiftType == "Bool" {
                text += "        public var \(property): Bool {\n            get { BPFLayout.readBits(bpfBytes, bitOffset: \(bits), size: \(width)) != 0 }\n"
                text += "            set { BPFLayout.writeBits(newValue ? 1 : 0, into: &bpfBytes, bitOffset: \(bits), size: \(width)) }\n        }\n"
            } else {
                text +=
                    "        public var \(property): \(swiftType) {\n            get { \(swiftType)(truncatingIfNeeded: BPFLayout.readBits(bpfBytes, bitOffset: \(bits), size: \(width))) }\n"
                text +=
                    "            set { BPFLayout.writeBits(UInt64(truncatingIfNeeded: newValue), into: &bpfBytes, bitOffset: \(bits), size: \(width)) }\n        }\n"
            }
            return
        }
        let offset = bits / 8
        if case let .array(element, _, count) = btf.type(memberType)?.kind {
            let elementID = table.strippedModifiers(element)
            if let elementType = table.valueType(elementID, naming: parent + "_" + cName), let stride = btf.size(of: elementID), stride > 0,
                !(btf.type(btf.resolved(elementID)).map { if case .array = $0.kind { true } else { false } } ?? false)
            {
                text += comment + "        public var \(property): [\(elementType)] {\n"
                text += "            get { BPFLayout.readArray(bpfBytes, at: \(offset), count: \(count), stride: \(stride)) }\n"
                text += "            set { BPFLayout.writeArray(newValue, into: &bpfBytes, at: \(offset), count: \(count), stride: \(stride)) }\n        }\n"
                if elementType == "Int8" || elementType == "UInt8", count > 0 {
                    text += "        /// `\(cName)` as a C string (up to its first NUL).\n"
                    text +=
                        "        public var \(scope.claim(SwiftNames.member(cName) + "String")): String { BPFLayout.string(bpfBytes, at: \(offset), count: \(count)) }\n"
                }
            } else {
                let length = btf.size(of: memberType) ?? 0
                text += comment + "        public var \(property): [UInt8] {\n            get { Array(bytes[\(offset)..<\(offset + length)]) }\n"
                text +=
                    "            set { bpfBytes.replaceSubrange(\(offset)..<\(offset + length), with: newValue.prefix(\(length)) + [UInt8](repeating: 0, count: Swift.max(0, \(length) - newValue.count))) }\n        }\n"
            }
            return
        }
        if let swiftType = table.valueType(type, naming: parent + "_" + cName) {
            text += comment + "        public var \(property): \(swiftType) {\n            get { BPFLayout.read(bpfBytes, at: \(offset)) }\n"
            text += "            set { BPFLayout.write(newValue, into: &bpfBytes, at: \(offset)) }\n        }\n"
        }
    }

    /// The opening of a generated value type over `size` bytes: its conformances, storage and
    /// initializers; the fields follow.
    private static func valueStruct(_ name: String, size: Int, doc: String) -> String {
        "    /// \(doc)\n    public struct \(name): BPFValue, Hashable, Sendable {\n"
            + "        public static var byteCount: Int { \(size) }\n"
            + "        /// The value's bytes, as the map holds them.\n        public var bpfBytes: [UInt8]\n"
            + "        /// A zeroed value.\n        public init() { bpfBytes = [UInt8](repeating: 0, count: \(size)) }\n"
            + "        public init(bpfBytes bytes: ArraySlice<UInt8>) {\n"
            + "            self.bpfBytes = Array(bytes.prefix(\(size))) + [UInt8](repeating: 0, count: Swift.max(0, \(size) - bytes.count))\n        }\n"
    }

    private static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var out = ""
        out.reserveCapacity(bytes.count * 4 / 3 + 4)
        var i = 0
        while i < bytes.count {
            let chunk = bytes[i..<min(i + 3, bytes.count)]
            let value = chunk.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * UInt32($1.offset)) }
            for j in 0..<4 { out.append(j <= chunk.count ? alphabet[Int(value >> (18 - 6 * UInt32(j)) & 63)] : "=") }
            i += 3
        }
        return out
    }
}

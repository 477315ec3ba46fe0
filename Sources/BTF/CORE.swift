/// CO-RE ("compile once, run everywhere") relocation: recomputes what a program assumed about
/// its own BTF types (a field's offset, a type's size, an enumerator's value) for the target's
/// types, matched by name the way libbpf matches them (`task_struct___v2` matches
/// `task_struct`; members by name, through anonymous structs and unions).
package struct CORERelocator: Sendable {
    /// The relocation kinds (`enum bpf_core_relo_kind`) this resolver handles.
    public enum Kind: UInt32, Sendable {
        case fieldByteOffset = 0, fieldByteSize = 1, fieldExists = 2, fieldSigned = 3
        case fieldLShift = 4, fieldRShift = 5
        case typeIDLocal = 6, typeIDTarget = 7, typeExists = 8, typeSize = 9
        case enumValueExists = 10, enumValue = 11, typeMatches = 12
    }

    /// What a relocation computes: the value the program was compiled with (from its own BTF)
    /// and the value for the target.
    public struct Resolution: Sendable, Equatable {
        public var local: UInt64
        public var target: UInt64
        /// Whether the compiled-in value must equal `local`. Not for a bitfield's offset, size
        /// and left shift: clang picks the load from the struct's alignment, libbpf (and this
        /// resolver) the smallest that holds the bits, and either load reads them right.
        public var validate = true

        public init(local: UInt64, target: UInt64, validate: Bool = true) {
            self.local = local
            self.target = target
            self.validate = validate
        }
    }

    public let local: BTF
    public let target: BTF
    /// Target type ids by name, for candidate lookup.
    private let targetNames: [String: [UInt32]]

    public init(local: BTF, target: BTF) {
        self.local = local
        self.target = target
        var names: [String: [UInt32]] = [:]
        for id in 1..<target.types.count where target.types[id].nameOffset != 0 {
            names[target.name(target.types[id].nameOffset), default: []].append(UInt32(id))
        }
        targetNames = names
    }

    /// The name without a `___flavor` suffix.
    static func essential(_ name: String) -> String {
        let scalars = Array(name.utf8)
        var i = 0
        while i + 2 < scalars.count {
            if scalars[i] == 95, scalars[i + 1] == 95, scalars[i + 2] == 95 { return String(decoding: scalars[..<i], as: UTF8.self) }
            i += 1
        }
        return name
    }

    private static func sameKind(_ a: BTFType.Kind, _ b: BTFType.Kind) -> Bool {
        switch (a, b) {
        case (.structure, .structure), (.union, .union), (.enumeration, .enumeration), (.enumeration64, .enumeration64),
            (.enumeration, .enumeration64), (.enumeration64, .enumeration), (.int, .int), (.typedef, .typedef),
            (.float, .float), (.pointer, .pointer), (.functionPrototype, .functionPrototype), (.forward, .forward):
            return true
        default:
            return false
        }
    }

    /// Target types with the local type's essential name and kind.
    private func candidates(for localID: UInt32) -> [UInt32] {
        guard let type = local.type(localID) else { return [] }
        let name = Self.essential(local.name(type.nameOffset))
        return (targetNames[name] ?? []).filter { id in target.type(id).map { Self.sameKind(type.kind, $0.kind) } ?? false }
    }

    /// A field access: bit offset, the field's type, and its bitfield width (0 for none).
    private struct Field { var bitOffset: Int; var type: UInt32; var bitfield: Int }

    /// Follows `access` (`0:1:2`) from `root` in `btf`; member names (from the local walk)
    /// select target members when `names` is given.
    private static func walk(_ btf: BTF, root: UInt32, access: [Int], names: [String]?) -> (Field, [String])? {
        guard let first = access.first, let rootSize = btf.size(of: root) else { return nil }
        var field = Field(bitOffset: first * rootSize * 8, type: root, bitfield: 0)
        var used: [String] = []
        for (step, index) in access.dropFirst().enumerated() {
            switch btf.resolvedKind(field.type) {
            case let .structure(_, members)?, let .union(_, members)?:
                if let names {
                    // An anonymous member of the local path: the next named member is searched
                    // for through the target's anonymous members (it may be nested otherwise there).
                    if names[step].isEmpty {
                        if step == access.count - 2 { return nil }  // the path ends on it: nothing named to find
                        continue
                    }
                    guard let (member, offset) = find(btf, members, named: names[step]) else { return nil }
                    field = Field(bitOffset: field.bitOffset + offset, type: member.type, bitfield: Int(member.bitfieldSize))
                    used.append(names[step])
                } else {
                    guard index < members.count else { return nil }
                    let member = members[index]
                    field = Field(bitOffset: field.bitOffset + Int(member.bitOffset), type: member.type, bitfield: Int(member.bitfieldSize))
                    used.append(btf.name(member.nameOffset))
                }
            case let .array(element, _, count)?:
                guard let size = btf.size(of: element), names != nil || index < Int(count) || count == 0 else { return nil }
                field = Field(bitOffset: field.bitOffset + index * size * 8, type: element, bitfield: 0)
                used.append("[\(index)]")
            default:
                return nil
            }
        }
        return (field, used)
    }

    /// The member named `name`, searching anonymous members too, with its bit offset.
    private static func find(_ btf: BTF, _ members: [BTFType.Member], named name: String) -> (BTFType.Member, Int)? {
        if name.hasPrefix("[") { return nil }
        for member in members {
            let memberName = btf.name(member.nameOffset)
            if memberName == name { return (member, Int(member.bitOffset)) }
            if memberName.isEmpty {
                switch btf.resolvedKind(member.type) {
                case let .structure(_, inner)?, let .union(_, inner)?:
                    if let (found, offset) = find(btf, inner, named: name) { return (found, Int(member.bitOffset) + offset) }
                default: break
                }
            }
        }
        return nil
    }

    /// What a field relocation of `kind` gives for `field`, as libbpf computes it: a bitfield is
    /// read with the smallest aligned load (of at least its type's size) that holds it, then
    /// shifted left and right into place; nil when no load of 8 bytes or less holds it.
    private func fieldValue(_ kind: Kind, _ btf: BTF, _ field: Field) -> UInt64? {
        var byteSize = btf.size(of: field.type) ?? 0
        var byteOffset = field.bitOffset / 8, bitSize = byteSize * 8
        if field.bitfield > 0, byteSize > 0 {
            bitSize = field.bitfield
            byteOffset = field.bitOffset / 8 / byteSize * byteSize
            while field.bitOffset + bitSize - byteOffset * 8 > byteSize * 8 {
                guard byteSize < 8 else { return nil }
                byteSize *= 2
                byteOffset = field.bitOffset / 8 / byteSize * byteSize
            }
        }
        switch kind {
        case .fieldByteOffset: return UInt64(byteOffset)
        case .fieldByteSize: return UInt64(byteSize)
        case .fieldExists: return 1
        case .fieldLShift: return UInt64(64 - (field.bitOffset + bitSize - byteOffset * 8))  // little-endian
        case .fieldRShift: return UInt64(64 - bitSize)
        default:  // .fieldSigned
            if case let .int(_, encoding, _, _)? = btf.resolvedKind(field.type) { return encoding & 1 != 0 ? 1 : 0 }
            if case let .enumeration(_, signed, _)? = btf.resolvedKind(field.type) { return signed ? 1 : 0 }
            return 0
        }
    }

    /// Resolves one `.BTF.ext` CO-RE record.
    /// - Throws: ``BTFError`` for an unsupported kind, a malformed access string, or a type or
    ///   field no target candidate has (except the `exists` kinds, which resolve to 0).
    public func resolve(_ record: BTFExt.CORERelocation) throws(BTFError) -> Resolution {
        guard let kind = Kind(rawValue: record.kind) else {
            throw BTFError(typeID: Int(record.typeID), "CO-RE relocation kind \(record.kind) is not supported yet")
        }
        let typeName = local.name(ofType: Int(record.typeID))
        let accessText = local.name(record.accessStringOffset)
        let access = accessText.split(separator: ":").compactMap { Int($0) }
        guard !access.isEmpty || (6...9).contains(kind.rawValue) || kind == .typeMatches else {
            throw BTFError(typeID: Int(record.typeID), "malformed CO-RE access string '\(accessText)'")
        }
        let candidates = candidates(for: record.typeID)
        switch kind {
        case .fieldByteOffset, .fieldByteSize, .fieldExists, .fieldSigned, .fieldLShift, .fieldRShift:
            guard let (localField, names) = Self.walk(local, root: record.typeID, access: access, names: nil),
                let localValue = fieldValue(kind, local, localField)
            else {
                throw BTFError(typeID: Int(record.typeID), "CO-RE access '\(accessText)' does not fit the local type \(typeName)")
            }
            var results: Set<UInt64> = []
            for candidate in candidates {
                if let (field, _) = Self.walk(target, root: candidate, access: access, names: names),
                    let value = fieldValue(kind, target, field)
                {
                    results.insert(value)
                }
            }
            if kind == .fieldExists { return Resolution(local: localValue, target: results.isEmpty ? 0 : 1) }
            guard let value = results.first else {
                var error = BTFError(typeID: Int(record.typeID), "CO-RE: no type in the target has \(typeName).\(names.joined(separator: "."))")
                error.unresolvable = true
                throw error
            }
            guard results.count == 1 else {
                throw BTFError(typeID: Int(record.typeID), "CO-RE: candidates for \(typeName) disagree on \(names.joined(separator: "."))")
            }
            let ambiguous = localField.bitfield > 0 && [.fieldByteOffset, .fieldByteSize, .fieldLShift].contains(kind)
            return Resolution(local: localValue, target: value, validate: !ambiguous)
        case .typeIDLocal:
            return Resolution(local: UInt64(record.typeID), target: UInt64(record.typeID))
        case .typeMatches:
            var budget = Self.comparisonBudget
            let found = candidates.contains { matches(record.typeID, $0, budget: &budget) }
            guard budget >= 0 else { throw exhausted(record, typeName) }
            return Resolution(local: 1, target: found ? 1 : 0)
        case .typeIDTarget, .typeExists, .typeSize:
            let localValue: UInt64 = kind == .typeSize ? UInt64(local.size(of: record.typeID) ?? 0) : (kind == .typeExists ? 1 : UInt64(record.typeID))
            var budget = Self.comparisonBudget
            let compatibleMatch = candidates.first { compatible(record.typeID, $0, budget: &budget) }
            guard budget >= 0 else { throw exhausted(record, typeName) }
            guard let match = compatibleMatch else {
                if kind == .typeExists { return Resolution(local: localValue, target: 0) }
                var error = BTFError(typeID: Int(record.typeID), "CO-RE: the target has no type \(typeName)")
                error.unresolvable = true
                throw error
            }
            let value: UInt64 = kind == .typeSize ? UInt64(target.size(of: match) ?? 0) : (kind == .typeExists ? 1 : UInt64(match))
            return Resolution(local: localValue, target: value)
        case .enumValueExists, .enumValue:
            guard let index = access.first, let (name, localValue) = enumerator(local, record.typeID, index: index) else {
                throw BTFError(typeID: Int(record.typeID), "CO-RE access '\(accessText)' is not an enumerator of \(typeName)")
            }
            let found = candidates.lazy.compactMap { self.enumerator(self.target, $0, named: name) }.first
            if kind == .enumValueExists { return Resolution(local: 1, target: found == nil ? 0 : 1) }
            guard let value = found else {
                var error = BTFError(typeID: Int(record.typeID), "CO-RE: the target's \(typeName) has no \(name)")
                error.unresolvable = true
                throw error
            }
            return Resolution(local: localValue, target: value)
        }
    }

    /// The error for a relocation whose type comparisons spent ``comparisonBudget``.
    private func exhausted(_ record: BTFExt.CORERelocation, _ typeName: String) -> BTFError {
        BTFError(
            typeID: Int(record.typeID),
            "CO-RE: comparing \(typeName) with the target's candidates took more than \(Self.comparisonBudget) steps; the BTF is malformed or hostile")
    }

    private func enumerator(_ btf: BTF, _ id: UInt32, index: Int) -> (String, UInt64)? {
        switch btf.resolvedKind(id) {
        case let .enumeration(_, _, values)?, let .enumeration64(_, _, values)?:
            return index < values.count ? (btf.name(values[index].nameOffset), values[index].value) : nil
        default: return nil
        }
    }

    private func enumerator(_ btf: BTF, _ id: UInt32, named name: String) -> UInt64? {
        switch btf.resolvedKind(id) {
        case let .enumeration(_, _, values)?, let .enumeration64(_, _, values)?:
            return values.first { btf.name($0.nameOffset) == name }?.value
        default: return nil
        }
    }
}

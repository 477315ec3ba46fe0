extension BTF {
    /// The type graph as a C header, as `bpftool btf dump file F format c` prints it: every
    /// named struct, union, enum and typedef, each declared before the first definition that
    /// needs it whole (pointers only need a forward declaration), members at their BTF offsets
    /// (gaps filled with unnamed bitfields, `packed` where the offsets need it), names that
    /// would clash renamed `name___2`. Compiled with `-target bpf`, the types keep CO-RE
    /// relocatable access (`preserve_access_index`), as vmlinux.h does.
    public func cHeader(guardName: String = "__VMLINUX_H__") -> String {
        var writer = CHeaderWriter(btf: self)
        writer.out =
            "#ifndef \(guardName)\n#define \(guardName)\n\n"
            + "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
            + "#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n#endif\n\n"
        for id in 1..<types.count { writer.emit(UInt32(id), complete: true, topLevel: true) }
        writer.writeKfuncPrototypes()
        writer.out += "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n#endif /* \(guardName) */\n"
        return writer.out
    }
}

/// The C header writer: declaration order, names and declarators.
private struct CHeaderWriter {
    let btf: BTF
    var out = ""
    /// Types whose definition (or, for a forward-declared struct, declaration) is written.
    private var defined = Set<UInt32>()
    private var declared = Set<UInt32>()
    /// Being defined now: a dependency back to one of these needs only its declaration.
    private var inProgress = Set<UInt32>()
    /// The C name given to each named type, and to each enumerator, with clashes renamed.
    private var typeNames: [UInt32: String] = [:]
    private var usedTypeNames: [String: Int] = [:]
    private var usedIdentifiers: [String: Int] = [:]
    private var alignments: [UInt32: Int] = [:]
    private var packedness: [UInt32: Bool] = [:]
    /// How deep `emit` and `declarator` are: malformed BTF can make a pointer, qualifier or
    /// array its own target, and the walk stops there rather than recursing without end.
    private var depth = 0
    private static let maxDepth = 256

    /// Types some other type refers to: anonymous ones among them are written inline there.
    private let referenced: Set<UInt32>

    init(btf: BTF) {
        self.btf = btf
        var referenced = Set<UInt32>()
        for type in btf.types {
            switch type.kind {
            case let .pointer(t), let .typedef(t), let .const(t), let .volatile(t), let .restrict(t), let .typeTag(t),
                let .array(t, _, _), let .variable(t, _):
                referenced.insert(t)
            case let .structure(_, members), let .union(_, members): for m in members { referenced.insert(m.type) }
            case let .functionPrototype(returns, parameters):
                referenced.insert(returns)
                for p in parameters { referenced.insert(p.type) }
            default: break
            }
        }
        self.referenced = referenced
    }

    private func kind(_ id: UInt32) -> BTFType.Kind? { btf.type(id)?.kind }

    private func isNamed(_ id: UInt32) -> Bool { (btf.type(id)?.nameOffset ?? 0) != 0 }

    /// The name `id` is written with; the first type to take a name keeps it.
    private mutating func cName(_ id: UInt32) -> String {
        if let name = typeNames[id] { return name }
        let base = btf.name(ofType: Int(id))
        if case .forward = kind(id) { return base }  // names the definition, wherever it is
        let tagged: String
        switch kind(id) {
        case .structure, .union, .enumeration, .enumeration64, .forward: tagged = "tag " + base
        default: tagged = base
        }
        let count = usedTypeNames[tagged, default: 0] + 1
        usedTypeNames[tagged] = count
        let name = count == 1 ? base : "\(base)___\(count)"
        typeNames[id] = name
        return name
    }

    private mutating func identifier(_ base: String) -> String {
        let count = usedIdentifiers[base, default: 0] + 1
        usedIdentifiers[base] = count
        return count == 1 ? base : "\(base)___\(count)"
    }

    // MARK: - Order

    /// Writes what `id` needs, then `id` itself when it is a named type at top level.
    /// `complete`: the use needs the whole definition (an embedded member), not only a name.
    mutating func emit(_ id: UInt32, complete: Bool, topLevel: Bool = false) {
        guard depth < Self.maxDepth, let type = btf.type(id) else { return }
        depth += 1
        defer { depth -= 1 }
        switch type.kind {
        case let .pointer(to):
            emit(to, complete: false)
        case let .const(t), let .volatile(t), let .restrict(t), let .typeTag(t):
            emit(t, complete: complete)
        case let .array(element, _, _):
            emit(element, complete: true)
        case let .functionPrototype(returns, parameters):
            emit(returns, complete: false)
            for p in parameters { emit(p.type, complete: false) }
        case let .typedef(target):
            if btf.name(type.nameOffset) == "__builtin_va_list" { return }  // the compiler's own
            if !defined.contains(id) {
                guard !inProgress.contains(id) else { return }
                inProgress.insert(id)
                emit(target, complete: false)
                inProgress.remove(id)
                defined.insert(id)
                out += "typedef " + declarator(target, cName(id)) + ";\n\n"
            }
            if complete { emit(target, complete: true) }
        case .structure, .union:
            if type.nameOffset == 0 {
                // Anonymous: written inline where it is used, so what it needs, its user needs.
                guard !inProgress.contains(id), !topLevel || !referenced.contains(id) else { return }
                inProgress.insert(id)
                for member in members(id) { emit(member.type, complete: true) }
                inProgress.remove(id)
                return
            }
            guard !defined.contains(id) else { return }
            guard complete, !inProgress.contains(id) else {
                // A use through a pointer: a forward declaration is enough.
                if !declared.contains(id) {
                    declared.insert(id)
                    out += (type.kind.isUnion ? "union " : "struct ") + cName(id) + ";\n\n"
                }
                return
            }
            inProgress.insert(id)
            for member in members(id) { emit(member.type, complete: true) }
            inProgress.remove(id)
            defined.insert(id)
            out += aggregateBody(id, indent: "") + ";\n\n"
        case .enumeration, .enumeration64:
            // An anonymous enum is written where it is used, or alone when nothing uses it.
            guard type.nameOffset != 0 || (topLevel && !referenced.contains(id)), !defined.contains(id) else { return }
            defined.insert(id)
            out += enumBody(id, indent: "") + ";\n\n"
        case let .forward(isUnion):
            guard !declared.contains(id) else { return }
            declared.insert(id)
            out += (isUnion ? "union " : "struct ") + cName(id) + ";\n\n"
        default:
            return  // base types need no declaration; functions, variables and sections are not written
        }
    }

    private func members(_ id: UInt32) -> [BTFType.Member] {
        switch kind(id) {
        case let .structure(_, members), let .union(_, members): members
        default: []
        }
    }

    // MARK: - Definitions

    /// `struct name { … }` (or `union`), with its members at their offsets.
    private mutating func aggregateBody(_ id: UInt32, indent: String) -> String {
        guard let type = btf.type(id) else { return "" }
        let isUnion: Bool, size: Int
        switch type.kind {
        case let .structure(s, _): (isUnion, size) = (false, Int(s))
        case let .union(s, _): (isUnion, size) = (true, Int(s))
        default: return ""
        }
        let members = members(id)
        var text = (isUnion ? "union" : "struct") + (type.nameOffset != 0 ? " " + cName(id) : "") + " {\n"
        let inner = indent + "\t"
        var position = 0  // bits
        let packed = isPacked(id)
        for member in members {
            let offset = Int(member.bitOffset), width = Int(member.bitfieldSize)
            let unit = packed ? 8 : alignment(member.type) * 8
            if !isUnion {
                let natural = width > 0 ? position : align(position, unit)
                if offset > natural, width == 0 || offset - position >= 8 { text += padding(from: position, to: offset, indent: inner) }
            }
            let name = btf.name(member.nameOffset)
            text += inner + declarator(member.type, name, indent: inner) + (width > 0 ? ": \(width)" : "") + ";\n"
            let end = offset + (width > 0 ? width : (btf.size(of: member.type) ?? 0) * 8)
            position = isUnion ? max(position, end) : end
        }
        if !isUnion, position < size * 8, size * 8 - position >= 8, align(position, packed ? 8 : maxAlignment(members) * 8) < size * 8 {
            text += padding(from: position, to: size * 8, indent: inner)
        }
        text += indent + "}"
        if packed { text += " __attribute__((packed))" }
        return text
    }

    /// Unnamed bitfields filling the bits `from..<to`: to a byte, then bytes to 8, then longs.
    private func padding(from: Int, to: Int, indent: String) -> String {
        var text = "", at = from
        func add(_ type: String, _ bits: Int) { text += indent + "\(type): \(bits);\n"; at += bits }
        if at % 8 != 0 { add("int", min(8 - at % 8, to - at)) }
        while at < to, at % 64 != 0 { add("char", min(8, to - at)) }
        if to - at >= 64 * 64 {
            // A gap too large for a line a long (a corrupt size of 0xffffffff asks for half a
            // billion): one byte array, in constant time and space.
            let bytes = (to - at) / 8
            text += indent + "char __pad_\(at / 8)[\(bytes)];\n"
            at += bytes * 8
        }
        while to - at >= 64 { add("long", 64) }
        while at < to { add("char", min(8, to - at)) }
        return text
    }

    private mutating func enumBody(_ id: UInt32, indent: String) -> String {
        guard let type = btf.type(id) else { return "" }
        let values: [BTFType.Enumerator], signed: Bool, size: UInt32
        switch type.kind {
        case let .enumeration(s, sg, v), let .enumeration64(s, sg, v): (values, signed, size) = (v, sg, s)
        default: return ""
        }
        var text = "enum" + (type.nameOffset != 0 ? " " + cName(id) : "") + " {\n"
        for value in values {
            let number =
                signed ? String(Int64(bitPattern: value.value)) : size <= 4 ? String(UInt32(truncatingIfNeeded: value.value)) : String(value.value) + "ULL"
            text += indent + "\t" + identifier(btf.name(value.nameOffset)) + " = " + number + ",\n"
        }
        // An enum whose size is not int's: the mode attribute gives it that size exactly.
        let mode = [1: " __attribute__((mode(byte)))", 2: " __attribute__((mode(HI)))", 8: " __attribute__((mode(DI)))"][Int(size)] ?? ""
        return text + indent + "}" + mode
    }

    // MARK: - Declarators

    /// The C declaration of `name` with type `id` (anonymous structs, unions and enums
    /// written inline): `int (*name)[4]`, `const char *name` …
    private mutating func declarator(_ id: UInt32, _ inner: String, indent: String = "") -> String {
        func joined(_ base: String, _ inner: String) -> String { inner.isEmpty ? base : base + " " + inner }
        func wrapped(_ inner: String) -> String { inner.hasPrefix("*") ? "(\(inner))" : inner }
        guard depth < Self.maxDepth, let type = btf.type(id) else { return joined("void", inner) }
        depth += 1
        defer { depth -= 1 }
        switch type.kind {
        case .void: return joined("void", inner)
        case .int, .float: return joined(btf.name(type.nameOffset), inner)
        case let .pointer(to): return declarator(to, "*" + inner, indent: indent)
        case let .const(t), let .volatile(t), let .restrict(t):
            let qualifier: String
            switch type.kind {
            case .const: qualifier = "const"
            case .volatile: qualifier = "volatile"
            default: qualifier = "restrict"
            }
            if case .pointer = kind(t) { return declarator(t, qualifier + " " + inner, indent: indent) }
            // On an array it qualifies the elements, which may say so already.
            let rest = declarator(t, inner, indent: indent)
            return rest.hasPrefix(qualifier + " ") ? rest : qualifier + " " + rest
        case let .typeTag(t): return declarator(t, inner, indent: indent)
        case let .array(element, _, count): return declarator(element, wrapped(inner) + "[\(count)]", indent: indent)
        case let .functionPrototype(returns, parameters):
            var list: [String] = []
            for (k, p) in parameters.enumerated() {
                if p.type == 0, k == parameters.count - 1, k > 0 { list.append("..."); continue }
                list.append(declarator(p.type, btf.name(p.nameOffset), indent: indent))
            }
            return declarator(returns, wrapped(inner) + "(" + (list.isEmpty ? "void" : list.joined(separator: ", ")) + ")", indent: indent)
        case .structure, .union:
            if type.nameOffset == 0 { return joined(aggregateBody(id, indent: indent), inner) }
            return joined((type.kind.isUnion ? "union " : "struct ") + cName(id), inner)
        case .enumeration, .enumeration64:
            if type.nameOffset == 0 { return joined(enumBody(id, indent: indent), inner) }
            return joined("enum " + cName(id), inner)
        case let .forward(isUnion): return joined((isUnion ? "union " : "struct ") + cName(id), inner)
        case .typedef: return joined(cName(id), inner)
        default: return joined("void", inner)
        }
    }

    /// The kernel functions programs may call (functions tagged `bpf_kfunc`), declared as
    /// current bpftool declares them: `extern RET NAME(ARGS) __weak __ksym;`, so a program can
    /// test for one with `bpf_ksym_exists` and call it.
    mutating func writeKfuncPrototypes() {
        var functions: [(name: String, prototype: UInt32)] = []
        var seen = Set<UInt32>()
        for type in btf.types {
            guard case let .declTag(target, component) = type.kind, component == -1, btf.name(type.nameOffset) == "bpf_kfunc",
                seen.insert(target).inserted, let function = btf.type(target), case let .function(prototype, _) = function.kind
            else { continue }
            functions.append((btf.name(function.nameOffset), prototype))
        }
        guard !functions.isEmpty else { return }
        for function in functions { emit(function.prototype, complete: false) }
        out += "#ifndef BPF_NO_KFUNC_PROTOTYPES\n#ifndef __ksym\n#define __ksym __attribute__((section(\".ksyms\")))\n#endif\n\n"
        out += "#ifndef __weak\n#define __weak __attribute__((weak))\n#endif\n\n"
        for function in functions { out += "extern " + declarator(function.prototype, function.name) + " __weak __ksym;\n" }
        out += "\n#endif\n\n"
    }

    // MARK: - Layout

    private func align(_ value: Int, _ to: Int) -> Int { to <= 1 ? value : (value + to - 1) / to * to }

    /// The natural alignment of type `id` in bytes (remembered: structs nest deeply).
    private mutating func alignment(_ id: UInt32, depth: Int = 0) -> Int {
        guard depth < 32 else { return 1 }
        let id = btf.resolved(id)
        if let known = alignments[id] { return known }
        let value = computeAlignment(id, depth: depth)
        alignments[id] = value
        return value
    }

    private mutating func computeAlignment(_ id: UInt32, depth: Int) -> Int {
        switch kind(id) {
        case let .int(size, _, _, _), let .float(size), let .enumeration(size, _, _), let .enumeration64(size, _, _):
            return max(1, min(Int(size), 8))
        case .pointer: return 8
        case let .array(element, _, _): return alignment(element, depth: depth + 1)
        case let .structure(_, members), let .union(_, members):
            if isPacked(id, depth: depth + 1) { return 1 }
            return members.map { alignment($0.type, depth: depth + 1) }.max() ?? 1
        default: return 1
        }
    }

    /// Whether struct `id` needs `__attribute__((packed))`, as libbpf decides: a size that is no
    /// multiple of its alignment, a member off its alignment, or a bitfield across its unit.
    private mutating func isPacked(_ id: UInt32, depth: Int = 0) -> Bool {
        guard depth < 32, case let .structure(size, members) = kind(id) else { return false }
        if let known = packedness[id] { return known }
        let value = computePacked(size: size, members: members, depth: depth)
        packedness[id] = value
        return value
    }

    private mutating func computePacked(size: UInt32, members: [BTFType.Member], depth: Int) -> Bool {
        let widest = members.map { alignment($0.type, depth: depth + 1) }.max() ?? 1
        if Int(size) % widest != 0 { return true }
        for member in members {
            let offset = Int(member.bitOffset), width = Int(member.bitfieldSize)
            let unit = alignment(member.type, depth: depth + 1) * 8
            if width == 0 ? offset % unit != 0 : offset / unit != (offset + width - 1) / unit { return true }
        }
        return false
    }

    private mutating func maxAlignment(_ members: [BTFType.Member]) -> Int { members.map { alignment($0.type) }.max() ?? 1 }
}

private extension BTFType.Kind {
    var isUnion: Bool { if case .union = self { true } else { false } }
}

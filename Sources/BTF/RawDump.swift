extension BTF {
    /// The type graph as text in `bpftool btf dump file F` (raw) format: one `[id] KIND 'name' …`
    /// line per type, then its members, parameters, enumerators or variables indented by a tab.
    public func rawDump() -> String {
        var out = ""
        out.reserveCapacity(types.count * 64)
        for id in 1..<types.count {
            appendRaw(id, to: &out)
        }
        return out
    }

    /// The raw-format text of type `id`, ending in a newline.
    public func rawDump(of id: Int) -> String {
        var out = ""
        appendRaw(id, to: &out)
        return out
    }

    private func quoted(_ offset: UInt32) -> String {
        let text = name(offset)
        return "'" + (text.isEmpty ? "(anon)" : text) + "'"
    }

    static let linkageNames = ["static", "global", "extern"]

    private func appendRaw(_ id: Int, to out: inout String) {
        let type = types[id]
        let head = "[\(id)] "
        let label = quoted(type.nameOffset)
        switch type.kind {
        case .void:
            out += head + "VOID\n"
        case let .int(size, encoding, bitOffset, bits):
            let names = ["(none)", "SIGNED", "CHAR", "?", "BOOL"]
            let encodingName = Int(encoding) < names.count ? names[Int(encoding)] : "?"
            out += head + "INT \(label) size=\(size) bits_offset=\(bitOffset) nr_bits=\(bits) encoding=\(encodingName)\n"
        case let .pointer(to): out += head + "PTR \(label) type_id=\(to)\n"
        case let .array(element, index, count):
            out += head + "ARRAY \(label) type_id=\(element) index_type_id=\(index) nr_elems=\(count)\n"
        case let .structure(size, members), let .union(size, members):
            let kind = if case .structure = type.kind { "STRUCT" } else { "UNION" }
            out += head + "\(kind) \(label) size=\(size) vlen=\(members.count)\n"
            for m in members {
                out += "\t\(quoted(m.nameOffset)) type_id=\(m.type) bits_offset=\(m.bitOffset)"
                out += m.bitfieldSize > 0 ? " bitfield_size=\(m.bitfieldSize)\n" : "\n"
            }
        case let .enumeration(size, signed, values):
            out += head + "ENUM \(label) encoding=\(signed ? "SIGNED" : "UNSIGNED") size=\(size) vlen=\(values.count)\n"
            for v in values {
                out += "\t\(quoted(v.nameOffset)) val=\(signed ? String(Int32(truncatingIfNeeded: v.value)) : String(UInt32(truncatingIfNeeded: v.value)))\n"
            }
        case let .enumeration64(size, signed, values):
            out += head + "ENUM64 \(label) encoding=\(signed ? "SIGNED" : "UNSIGNED") size=\(size) vlen=\(values.count)\n"
            for v in values {
                out += "\t\(quoted(v.nameOffset)) val=\(signed ? "\(Int64(bitPattern: v.value))LL" : "\(v.value)ULL")\n"
            }
        case let .forward(isUnion): out += head + "FWD \(label) fwd_kind=\(isUnion ? "union" : "struct")\n"
        case let .typedef(t): out += head + "TYPEDEF \(label) type_id=\(t)\n"
        case let .volatile(t): out += head + "VOLATILE \(label) type_id=\(t)\n"
        case let .const(t): out += head + "CONST \(label) type_id=\(t)\n"
        case let .restrict(t): out += head + "RESTRICT \(label) type_id=\(t)\n"
        case let .function(prototype, linkage):
            let name = Int(linkage) < Self.linkageNames.count ? Self.linkageNames[Int(linkage)] : "(unknown)"
            out += head + "FUNC \(label) type_id=\(prototype) linkage=\(name)\n"
        case let .functionPrototype(returns, parameters):
            out += head + "FUNC_PROTO \(label) ret_type_id=\(returns) vlen=\(parameters.count)\n"
            for p in parameters { out += "\t\(quoted(p.nameOffset)) type_id=\(p.type)\n" }
        case let .variable(t, linkage):
            let name = Int(linkage) < Self.linkageNames.count ? Self.linkageNames[Int(linkage)] : "(unknown)"
            out += head + "VAR \(label) type_id=\(t), linkage=\(name)\n"
        case let .dataSection(size, variables):
            out += head + "DATASEC \(label) size=\(size) vlen=\(variables.count)\n"
            for v in variables {
                out += "\ttype_id=\(v.type) offset=\(v.offset) size=\(v.size) (VAR \(quoted(Int(v.type) < types.count ? types[Int(v.type)].nameOffset : 0)))\n"
            }
        case let .float(size): out += head + "FLOAT \(label) size=\(size)\n"
        case let .declTag(t, component): out += head + "DECL_TAG \(label) type_id=\(t) component_idx=\(component)\n"
        case let .typeTag(t): out += head + "TYPE_TAG \(label) type_id=\(t)\n"
        }
    }
}

extension BTF {
    /// The type graph as `bpftool -j btf dump` prints it: `{"types":[{"id":1,"kind":"INT",…},…]}`,
    /// the raw format's fields as JSON members.
    public func rawDumpJSON() -> String {
        var out = "{\"types\":["
        out.reserveCapacity(types.count * 96)
        for id in 1..<types.count {
            if id > 1 { out += "," }
            appendJSON(id, to: &out)
        }
        return out + "]}"
    }

    private func jsonName(_ offset: UInt32) -> String {
        let text = name(offset)
        return jsonQuoted(text.isEmpty ? "(anon)" : text)
    }

    private func appendJSON(_ id: Int, to out: inout String) {
        let type = types[id]
        func head(_ kind: String) -> String { "{\"id\":\(id),\"kind\":\"\(kind)\",\"name\":\(jsonName(type.nameOffset))" }
        func linkage(_ value: Int) -> String { jsonQuoted(value < Self.linkageNames.count ? Self.linkageNames[value] : "(unknown)") }
        switch type.kind {
        case .void: out += head("VOID") + "}"
        case let .int(size, encoding, bitOffset, bits):
            let names = ["(none)", "SIGNED", "CHAR", "?", "BOOL"]
            let encodingName = Int(encoding) < names.count ? names[Int(encoding)] : "?"
            out += head("INT") + ",\"size\":\(size),\"bits_offset\":\(bitOffset),\"nr_bits\":\(bits),\"encoding\":\"\(encodingName)\"}"
        case let .pointer(to): out += head("PTR") + ",\"type_id\":\(to)}"
        case let .array(element, index, count): out += head("ARRAY") + ",\"type_id\":\(element),\"index_type_id\":\(index),\"nr_elems\":\(count)}"
        case let .structure(size, members), let .union(size, members):
            let kind = if case .structure = type.kind { "STRUCT" } else { "UNION" }
            let list = members.map { m in
                "{\"name\":\(jsonName(m.nameOffset)),\"type_id\":\(m.type),\"bits_offset\":\(m.bitOffset)"
                    + (m.bitfieldSize > 0 ? ",\"bitfield_size\":\(m.bitfieldSize)}" : "}")
            }
            out += head(kind) + ",\"size\":\(size),\"vlen\":\(members.count),\"members\":[" + list.joined(separator: ",") + "]}"
        case let .enumeration(size, signed, values), let .enumeration64(size, signed, values):
            let wide = if case .enumeration64 = type.kind { true } else { false }
            let list = values.map { v in
                let value =
                    wide
                    ? (signed ? String(Int64(bitPattern: v.value)) : String(v.value))
                    : (signed ? String(Int32(truncatingIfNeeded: v.value)) : String(UInt32(truncatingIfNeeded: v.value)))
                return "{\"name\":\(jsonName(v.nameOffset)),\"val\":\(value)}"
            }
            out +=
                head(wide ? "ENUM64" : "ENUM") + ",\"encoding\":\"\(signed ? "SIGNED" : "UNSIGNED")\",\"size\":\(size),\"vlen\":\(values.count),\"values\":["
                + list.joined(separator: ",") + "]}"
        case let .forward(isUnion): out += head("FWD") + ",\"fwd_kind\":\"\(isUnion ? "union" : "struct")\"}"
        case let .typedef(t): out += head("TYPEDEF") + ",\"type_id\":\(t)}"
        case let .volatile(t): out += head("VOLATILE") + ",\"type_id\":\(t)}"
        case let .const(t): out += head("CONST") + ",\"type_id\":\(t)}"
        case let .restrict(t): out += head("RESTRICT") + ",\"type_id\":\(t)}"
        case let .function(prototype, value): out += head("FUNC") + ",\"type_id\":\(prototype),\"linkage\":\(linkage(Int(value)))}"
        case let .functionPrototype(returns, parameters):
            let list = parameters.map { "{\"name\":\(jsonName($0.nameOffset)),\"type_id\":\($0.type)}" }
            out += head("FUNC_PROTO") + ",\"ret_type_id\":\(returns),\"vlen\":\(parameters.count),\"params\":[" + list.joined(separator: ",") + "]}"
        case let .variable(t, value): out += head("VAR") + ",\"type_id\":\(t),\"linkage\":\(linkage(Int(value)))}"
        case let .dataSection(size, variables):
            let list = variables.map { "{\"type_id\":\($0.type),\"offset\":\($0.offset),\"size\":\($0.size)}" }
            out += head("DATASEC") + ",\"size\":\(size),\"vlen\":\(variables.count),\"vars\":[" + list.joined(separator: ",") + "]}"
        case let .float(size): out += head("FLOAT") + ",\"size\":\(size)}"
        case let .declTag(t, component): out += head("DECL_TAG") + ",\"type_id\":\(t),\"component_idx\":\(component)}"
        case let .typeTag(t): out += head("TYPE_TAG") + ",\"type_id\":\(t)}"
        }
    }
}

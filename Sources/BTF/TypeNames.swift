extension BTF {
    /// A function's prototype as bpftool prints it above a program's instructions:
    /// `int handler(struct sys_enter_record * ctx)`; nil when `id` is not a function.
    public func prototypeText(function id: UInt32) -> String? {
        guard let function = type(id), case let .function(prototypeID, _) = function.kind, let prototype = type(prototypeID),
            case let .functionPrototype(returns, parameters) = prototype.kind
        else { return nil }
        let arguments = parameters.map { parameter in
            let parameterName = name(parameter.nameOffset)
            return parameter.type == 0 && parameterName.isEmpty ? "..." : typeText(parameter.type) + (parameterName.isEmpty ? "" : " " + parameterName)
        }
        return typeText(returns) + " " + name(function.nameOffset) + "(" + arguments.joined(separator: ", ") + ")"
    }

    /// A type's name as bpftool spells a type alone: `struct task_struct *`, `const char *`,
    /// `u32[4]`.
    public func typeText(_ id: UInt32, depth: Int = 0) -> String {
        guard depth < 32, let type = type(id) else { return "void" }
        let own = name(type.nameOffset)
        switch type.kind {
        case .void: return "void"
        case .int, .float, .typedef: return own
        case .structure: return own.isEmpty ? "struct" : "struct " + own
        case .union: return own.isEmpty ? "union" : "union " + own
        case .enumeration, .enumeration64: return own.isEmpty ? "enum" : "enum " + own
        case let .forward(isUnion): return (isUnion ? "union " : "struct ") + own
        case let .pointer(to): return typeText(to, depth: depth + 1) + " *"
        case let .const(of): return "const " + typeText(of, depth: depth + 1)
        case let .volatile(of): return "volatile " + typeText(of, depth: depth + 1)
        case let .restrict(of): return typeText(of, depth: depth + 1) + " restrict"
        case let .typeTag(of): return typeText(of, depth: depth + 1)
        case let .array(element, _, count): return typeText(element, depth: depth + 1) + "[\(count)]"
        case .functionPrototype: return "func_proto"
        case .function, .variable, .dataSection, .declTag: return own
        }
    }
}

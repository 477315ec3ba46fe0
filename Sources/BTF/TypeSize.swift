extension BTF {
    /// Type `id`, or nil when the id is outside the table (malformed BTF can reference anything).
    public func type(_ id: UInt32) -> BTFType? {
        Int(id) < types.count ? types[Int(id)] : nil
    }

    /// The kind of type `id` after ``resolved(_:)``, or nil for an id outside the table.
    public func resolvedKind(_ id: UInt32) -> BTFType.Kind? { type(resolved(id))?.kind }

    /// The type `id` with typedefs, qualifiers and type tags stripped.
    public func resolved(_ id: UInt32) -> UInt32 {
        var current = id
        for _ in 0..<64 {  // a chain longer than this is a cycle in malformed BTF
            guard Int(current) < types.count else { return current }
            switch types[Int(current)].kind {
            case let .typedef(t), let .volatile(t), let .const(t), let .restrict(t), let .typeTag(t): current = t
            default: return current
            }
        }
        return current
    }

    /// The size in bytes of type `id`, or nil for void, functions, forward declarations and
    /// references outside the type table.
    public func size(of id: UInt32) -> Int? { size(of: id, depth: 0) }

    private func size(of id: UInt32, depth: Int) -> Int? {
        guard depth < 32 else { return nil }  // nested arrays this deep only occur in cyclic, malformed BTF
        let id = resolved(id)
        guard Int(id) < types.count else { return nil }
        switch types[Int(id)].kind {
        case let .int(size, _, _, _), let .structure(size, _), let .union(size, _), let .enumeration(size, _, _),
            let .enumeration64(size, _, _), let .float(size), let .dataSection(size, _):
            return Int(size)
        case .pointer: return 8
        case let .array(element, _, count):
            return size(of: element, depth: depth + 1).flatMap { $0.multipliedReportingOverflow(by: Int(count)).overflow ? nil : $0 * Int(count) }
        default: return nil
        }
    }
}

public import BPFVerifier
public import BTF

/// The verifier's view of kernel object types, over a parsed BTF (vmlinux): reads are
/// ``BTF/structAccess(type:offset:size:)``, the kernel's `btf_struct_access`. Set it as
/// ``BPFVerifier/Verifier/Configuration/kernelTypes`` to verify tracing programs that read
/// kernel objects (object verification does so with its CO-RE target).
public struct BTFKernelObjectTypes: KernelObjectTypes {
    public let btf: BTF

    public init(btf: BTF) { self.btf = btf }

    public func read(type: UInt32, offset: Int, size: Int) -> KernelObjectRead {
        switch btf.structAccess(type: type, offset: offset, size: size) {
        case .scalar: .scalar
        case let .pointer(to, member, tag): .pointer(to: to, member: member, tag: tag)
        case .untypedPointer: .untypedPointer
        case let .refused(message): .refused(message)
        }
    }

    public func name(ofType type: UInt32) -> String { btf.name(ofType: Int(type)) }

    public func begins(_ type: UInt32, with name: String) -> Bool {
        var current = btf.resolved(type)
        for _ in 0..<32 {
            if btf.name(ofType: Int(current)) == name, case .structure? = btf.type(current)?.kind { return true }
            guard case let .structure(_, members)? = btf.type(current)?.kind, let first = members.first, first.bitOffset == 0 else { return false }
            current = btf.resolved(first.type)
        }
        return false
    }

    public func structID(named name: String) -> UInt32? {
        btf.typeID(named: name) { kind in
            if case .structure = kind { true } else { false }
        }.map(UInt32.init)
    }

    public func kernelFunction(_ id: UInt32) -> KernelFunctionPrototype? {
        guard case let .function(prototype, _)? = btf.type(id)?.kind, case let .functionPrototype(returns, parameters)? = btf.type(prototype)?.kind
        else { return nil }
        return KernelFunctionPrototype(
            name: btf.name(ofType: Int(id)),
            parameters: parameters.map { .init(name: btf.name($0.nameOffset), value: value(of: $0.type)) }, result: value(of: returns))
    }

    /// A parameter's or result's type, in `check_kfunc_args`' terms.
    private func value(of type: UInt32) -> KernelFunctionPrototype.Value {
        let id = btf.resolved(type)
        switch btf.type(id)?.kind {
        case nil where id == 0, .void?: return .void
        case let .int(size, _, _, _)?, let .enumeration(size, _, _)?, let .enumeration64(size, _, _)?: return .scalar(size: Int(size))
        case let .pointer(to)?:
            let target = btf.resolved(to)
            switch btf.type(target)?.kind {
            case nil where target == 0, .void?: return .voidPointer
            case .structure?: return .structPointer(type: target, name: btf.name(ofType: Int(target)))
            default: return .other("pointer to \(btf.name(ofType: Int(target)).isEmpty ? "an unnamed type" : btf.name(ofType: Int(target)))")
            }
        default: return .other(btf.name(ofType: Int(id)).isEmpty ? "type #\(id)" : btf.name(ofType: Int(id)))
        }
    }
}

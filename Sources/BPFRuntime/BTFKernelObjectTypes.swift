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
}

import BPFVerifier
import BTF

/// The verifier's view of kernel object types, over a parsed BTF (vmlinux): reads are
/// ``BTF/structAccess(type:offset:size:)``, the kernel's `btf_struct_access`.
struct BTFKernelObjectTypes: KernelObjectTypes {
    let btf: BTF

    func read(type: UInt32, offset: Int, size: Int) -> KernelObjectRead {
        switch btf.structAccess(type: type, offset: offset, size: size) {
        case .scalar: .scalar
        case let .pointer(to): .pointer(to: to)
        case let .refused(message): .refused(message)
        }
    }

    func name(ofType type: UInt32) -> String { btf.name(ofType: Int(type)) }

    func structID(named name: String) -> UInt32? {
        btf.typeID(named: name) { kind in
            if case .structure = kind { true } else { false }
        }.map(UInt32.init)
    }
}

import BPFCore
import BTF

/// An `extern … __kconfig` variable (`LINUX_KERNEL_VERSION`, `CONFIG_HZ`): a value of the kernel
/// the program runs on, which the loader supplies. As libbpf does, the object's externs live in a
/// read-only `.kconfig` map, each at an offset of its own.
public struct KconfigExtern: Sendable, Equatable {
    public var name: String
    /// Where the value lies in the `.kconfig` map, and its size in bytes (1, 2, 4 or 8).
    public var offset: Int, size: Int
    /// A `__weak` extern may be missing (it reads 0); a strong one must be supplied.
    public var isWeak: Bool
}

extension ObjectFile {
    /// The name of the map that holds the object's kconfig externs.
    public static let kconfigMapName = ".kconfig"

    /// The `.kconfig` data section's variables of `btf`, laid out one after another at their
    /// natural alignment, and the map that holds them (zeroed until ``resolveKconfig(_:)``).
    static func kconfigExterns(_ btf: BTF, elf: ELFFile) -> ([KconfigExtern], MapDefinition?) {
        guard let datasec = btf.typeID(named: kconfigMapName, where: { if case .dataSection = $0 { true } else { false } }),
            case let .dataSection(_, variables) = btf.types[datasec].kind
        else { return ([], nil) }
        var externs: [KconfigExtern] = [], end = 0
        for placement in variables {
            guard case let .variable(type, _) = btf.type(placement.type)?.kind, let size = btf.size(of: type), [1, 2, 4, 8].contains(size) else { continue }
            let name = btf.name(ofType: Int(placement.type))
            let offset = (end + size - 1) / size * size
            let weak = elf.symbols.contains { $0.name == name && $0.binding == 2 }
            externs.append(KconfigExtern(name: name, offset: offset, size: size, isWeak: weak))
            end = offset + size
        }
        guard !externs.isEmpty else { return ([], nil) }
        let map = MapDefinition(
            name: kconfigMapName, type: .array, keySize: 4, valueSize: end, maxEntries: 1, flags: [], section: kconfigMapName, offset: 0,
            initialValue: [UInt8](repeating: 0, count: end), readOnly: true)
        return (externs, map)
    }

    /// Fills the `.kconfig` map with `values` (by extern name), as the loader learned them from
    /// the kernel the program will run on; a weak extern without a value reads 0.
    /// - Throws: ``ObjectError`` naming a strong extern `values` lacks.
    public mutating func resolveKconfig(_ values: [String: UInt64]) throws(ObjectError) {
        guard let index = maps.firstIndex(where: { $0.name == Self.kconfigMapName }), var bytes = maps[index].initialValue else { return }
        for extern in kconfigExterns {
            guard let value = values[extern.name] else {
                if extern.isWeak { continue }
                throw ObjectError(section: Self.kconfigMapName, "extern '\(extern.name)': this kernel's value is not known (declare it __weak to read 0)")
            }
            for byte in 0..<extern.size { bytes[extern.offset + byte] = UInt8(truncatingIfNeeded: value >> (8 * byte)) }
        }
        maps[index].initialValue = bytes
    }
}

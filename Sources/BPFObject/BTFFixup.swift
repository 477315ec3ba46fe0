public import BTF

extension ObjectFile {
    /// The object's BTF as the kernel accepts it (`BPF_BTF_LOAD`). Clang leaves each data
    /// section's size and its variables' offsets at zero for the linker to decide; like libbpf,
    /// this fills them in from the ELF section and symbol table and sorts the variables by offset.
    /// Nil when the object has no BTF.
    /// With `skippingAbsentSections`, a data section the ELF file does not hold (`.kconfig`,
    /// `.ksyms`: externs) is left as it is instead of refused.
    /// - Throws: ``ObjectError`` naming a data section or variable the ELF file does not hold.
    public func loadableBTF(skippingAbsentSections: Bool = false) throws(ObjectError) -> BTF? {
        guard var btf else { return nil }
        for id in btf.types.indices {
            guard case let .dataSection(_, variables) = btf.types[id].kind else { continue }
            let name = btf.name(ofType: id)
            guard let section = elf.section(named: name) else {
                if skippingAbsentSections { continue }
                throw ObjectError(section: ".BTF", "data section '\(name)' (type [\(id)]) is not in the object")
            }
            var placed: [BTFType.VariablePlacement] = []
            for variable in variables {
                let variableName = btf.name(ofType: Int(variable.type))
                guard let symbol = elf.symbols.first(where: { Int($0.sectionIndex) == section.index && $0.name == variableName && $0.type != 3 }) else {
                    throw ObjectError(section: ".BTF", "variable '\(variableName)' of data section '\(name)' has no symbol in the object")
                }
                var variable = variable
                variable.offset = UInt32(truncatingIfNeeded: symbol.value)
                placed.append(variable)
            }
            placed.sort { $0.offset < $1.offset }
            var fixed = btf.types[id]
            fixed.kind = .dataSection(size: UInt32(section.size), variables: placed)
            btf.replaceType(id, with: fixed)
        }
        return btf
    }

    /// The id of the data section type named `section` in the object's BTF, if any.
    func dataSectionTypeID(_ section: String) -> UInt32? {
        btf?.typeID(named: section) { if case .dataSection = $0 { true } else { false } }.map(UInt32.init)
    }
}

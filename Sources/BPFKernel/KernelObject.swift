public import BPFCore
public import BPFObject

/// An object file loaded into the running kernel: its maps created, and its programs loaded on
/// request with their map references patched to the maps' file descriptors.
public final class KernelObject {
    /// The parsed object.
    public let object: ObjectFile
    /// The maps, in the object's order.
    public let maps: [KernelMap]

    /// Creates every map the object declares.
    public init(_ object: ObjectFile) throws(KernelError) {
        self.object = object
        var maps: [KernelMap] = []
        for definition in object.maps { maps.append(try KernelMap(definition)) }
        self.maps = maps
    }

    /// A failure to prepare a program for the kernel, before `bpf(2)` is asked.
    public struct LoadError: Error, Sendable, CustomStringConvertible {
        public var program: String
        public var message: String
        public var description: String { "program \(program): \(message)" }
    }

    /// The program's instructions with every map reference (`lddw` relocated against a map
    /// symbol) turned into `BPF_PSEUDO_MAP_FD` with the map's descriptor.
    public func relocatedInstructions(_ program: ObjectFile.Program) throws(LoadError) -> [Instruction] {
        var code = program.instructions
        for relocation in program.relocations {
            let index = Int(relocation.offset / 8)
            let symbol = object.elf.symbols[relocation.symbol]
            guard relocation.offset % 8 == 0, index < code.count else {
                throw LoadError(program: program.name, message: "relocation at offset \(relocation.offset) is not on an instruction")
            }
            guard let map = object.map(for: relocation), let position = object.maps.firstIndex(of: map) else {
                throw LoadError(program: program.name, message: "instruction \(index): relocation against '\(symbol.name)' is not a map reference; global data and calls across sections are not supported yet")
            }
            guard code[index].isWide, index + 1 < code.count else {
                throw LoadError(program: program.name, message: "instruction \(index): map '\(map.name)' is referenced by \(Disassembler.text(code[index])), not by a lddw")
            }
            code[index].src = WideImmediateKind.mapFD.rawValue
            code[index].imm = maps[position].fd
        }
        return code
    }

    /// Loads program `name` (the only one when nil).
    /// - Throws: ``KernelError`` with the verifier's log, or ``LoadError`` for what cannot be relocated.
    public func load(program name: String? = nil) throws -> KernelProgram {
        let program: ObjectFile.Program
        do { program = try object.program(selecting: name) } catch { throw LoadError(program: name ?? "?", message: error.message) }
        guard let kind = program.kind else {
            throw LoadError(program: program.name, message: "section '\(program.section)' names no program type libbpf knows")
        }
        return try KernelProgram(type: kind.type, instructions: try relocatedInstructions(program),
                                 license: object.license ?? "", name: String(program.name.prefix(15)))
    }
}

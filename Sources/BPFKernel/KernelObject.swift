import BPFPlatform
public import BPFCore
public import BPFObject
public import BTF

/// An object file loaded into the running kernel: its maps created, and its programs loaded on
/// request with their map references patched to the maps' file descriptors.
public final class KernelObject {
    /// The parsed object.
    public let object: ObjectFile
    /// The maps, in the object's order.
    public let maps: [KernelMap]
    /// The map named `name` (global data as `.data`, `.rodata`, `.bss`), if the object has one.
    public func map(named name: String) -> KernelMap? { maps.first { $0.definition.name == name } }
    /// The table of USDT argument specifications its `usdt` programs share, if it has one.
    private lazy var usdtSpecifications: USDTSpecificationTable? = map(named: USDTSpecification.mapName).map(USDTSpecificationTable.init)
    /// The object's BTF in the kernel, which maps and programs refer to; nil when the object has
    /// none or the kernel refused it (``btfProblem`` says why; then, as with libbpf, maps and
    /// programs load without it).
    public let btf: KernelBTF?
    /// Why the object's BTF is not loaded, when it has BTF.
    public let btfProblem: String?

    /// Loads the object's BTF and creates every map the object declares.
    public init(_ object: ObjectFile) throws(KernelError) {
        var object = object
        do { try object.resolveKconfig(KernelConfiguration.values) } catch { throw .preparing(program: "?", error) }
        self.object = object
        var btf: KernelBTF?, problem: String?
        do {
            if let types = try object.loadableBTF() {
                do { btf = try KernelBTF(types) } catch { problem = error.description }
            }
        } catch { problem = error.description }
        var maps: [KernelMap] = []
        for definition in object.maps { maps.append(try KernelMap(definition, btf: btf)) }
        // `values` initialisers naming maps: their slots hold those maps from the start.
        for map in maps where map.definition.inner != nil {
            for (slot, symbol) in map.definition.initialSlots.sorted(by: { $0.key < $1.key }) {
                guard let held = maps.first(where: { $0.definition.name == symbol }) else { continue }
                try map.update(Self.slotKey(slot, in: map), Self.littleEndian(UInt32(bitPattern: held.fd)))
            }
        }
        self.maps = maps
        self.btf = btf
        self.btfProblem = problem
    }

    /// The linked program's instructions with every map reference pointing at the kernel's map:
    /// `BPF_PSEUDO_MAP_FD` for a map, `BPF_PSEUDO_MAP_VALUE` with the offset for global data.
    public func relocatedInstructions(_ linked: LinkedProgram) -> [Instruction] {
        var code = linked.instructions
        for reference in linked.mapReferences {
            let i = reference.instruction
            code[i].imm = maps[reference.map].fd
            if let offset = reference.valueOffset {
                code[i].src = WideImmediateKind.mapValue.rawValue
                code[i + 1].imm = Int32(offset)
            } else {
                code[i].src = WideImmediateKind.mapFD.rawValue
            }
        }
        return code
    }

    /// Loads program `name` (the only one when nil), CO-RE relocated against `target` (the
    /// running kernel's BTF, ``BTF.vmlinux``) when given; `logLevel` as ``KernelProgram``'s (4:
    /// the verifier's statistics, its time and instruction count).
    /// - Throws: ``KernelError/refused(operation:errno:log:)`` with the verifier's log, or
    ///   ``KernelError/preparing(program:_:)`` for what cannot be relocated.
    public func load(program name: String? = nil, target: BTF? = nil, logLevel: UInt32 = 0) throws(KernelError) -> KernelProgram {
        let program: ObjectFile.Program
        do { program = try object.program(selecting: name) } catch { throw .preparing(program: name ?? "?", error) }
        guard let kind = program.kind else {
            throw .preparing(program: program.name, ObjectError(section: program.section, "the section names no program type libbpf knows"))
        }
        let linked: LinkedProgram
        do { linked = try object.link(program, target: target) } catch { throw .preparing(program: program.name, error) }
        let attachBTFID: UInt32
        do { attachBTFID = try kind.attachBTFID(in: target ?? BTF.vmlinux) } catch {
            throw .preparing(program: program.name, ObjectError(section: program.section, error.message))
        }
        let loaded = try KernelProgram(
            type: kind.type, instructions: relocatedInstructions(linked),
            license: object.license ?? "", name: kernelObjectName(program.name), logLevel: logLevel,
            btf: btf, functionInfo: linked.functionInfo, lineInfo: linked.lineInfo,
            expectedAttachType: kind.expectedAttachType, flags: kind.flags, attachBTFID: attachBTFID)
        (loaded.name, loaded.section, loaded.attachTarget) = (program.name, program.section, kind.attachTarget)
        loaded.usdtSpecifications = usdtSpecifications
        // Program arrays whose `values` initialiser names this program get it in that slot.
        for map in maps where map.definition.type == .progArray {
            for (slot, symbol) in map.definition.initialSlots where symbol == program.name {
                try map.update(Self.slotKey(slot, in: map), Self.littleEndian(UInt32(bitPattern: loaded.fd)))
            }
        }
        return loaded
    }

    /// The key of slot `slot` of an array (a u32 index) or hash of maps (the index in its key's
    /// width, as libbpf writes it).
    private static func slotKey(_ slot: Int, in map: KernelMap) -> [UInt8] {
        var key = littleEndian(UInt32(slot))
        key += [UInt8](repeating: 0, count: max(0, map.definition.keySize - 4))
        return Array(key.prefix(map.definition.keySize))
    }

    private static func littleEndian(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
}

extension BTF {
    /// The running kernel's type information, `/sys/kernel/btf/vmlinux`, parsed once (on first
    /// use); nil where the kernel has none. CO-RE relocations are resolved against it.
    public static let vmlinux: BTF? = readFile("/sys/kernel/btf/vmlinux").flatMap { try? BTF(bytes: $0) }
}

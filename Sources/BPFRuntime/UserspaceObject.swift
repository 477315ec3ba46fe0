import BPFCore
import BPFVerifier
import BPFPlatform
import Synchronization
public import BPFMaps
public import BPFObject
public import BPFVM
public import BTF

/// An object file loaded into the userspace runtime: its maps created as ``BPFMap``s, and its
/// programs prepared on request — map references relocated to the maps, context accesses
/// converted to the runtime's layout, helpers bound.
public final class UserspaceObject {
    /// The parsed object.
    public let object: ObjectFile
    /// The maps the runtime could create, in the object's order.
    public let maps: [BPFMap]
    /// The maps it could not (a type the runtime does not have, a size past its limits), by
    /// name, and why: only the programs that use one are refused, when they are loaded.
    public let unavailableMaps: [String: MapError]
    /// The object's maps by their index in it, nil where unavailable.
    private let slots: [BPFMap?]
    /// The ids of ``maps`` in the ``RuntimeInventory``, in the same order.
    public let mapIDs: [UInt32]

    /// Creates every map the object declares that the runtime can.
    /// - Throws: ``RuntimeError/kconfig(_:)`` for a `__kconfig` extern this host has no value for.
    public init(_ object: ObjectFile) throws(RuntimeError) {
        var object = object
        // The runtime gives every program its link's cookie (`bpf_get_attach_cookie`), which
        // libbpf's usdt.bpf.h asks of the kernel through this extern.
        var kconfig = KernelConfiguration.values
        kconfig["LINUX_HAS_BPF_COOKIE"] = 1
        do throws(ObjectError) { try object.resolveKconfig(kconfig) } catch { throw .kconfig(error) }
        self.object = object
        var slots: [BPFMap?] = [], unavailable: [String: MapError] = [:]
        for d in object.maps {
            do throws(MapError) {
                let map = try BPFMap.make(name: d.name, shape: d.shape)
                if let initial = d.initialValue {
                    try map.update([0, 0, 0, 0], initial)
                    // As the kernel backend freezes it: the verifier takes its contents as known.
                    if d.readOnly { map.freeze() }
                }
                slots.append(map)
            } catch {
                slots.append(nil)
                unavailable[d.name] = error
            }
        }
        // `values` initialisers naming maps: those maps are in their slots from the start.
        for (d, map) in zip(object.maps, slots) {
            guard let outer = map as? MapOfMaps else { continue }
            for (slot, symbol) in d.initialSlots.sorted(by: { $0.key < $1.key }) {
                guard let i = object.maps.firstIndex(where: { $0.name == symbol }), let held = slots[i] else { continue }
                let key = (0..<d.keySize).map { $0 < 4 ? UInt8(truncatingIfNeeded: slot >> (8 * $0)) : 0 }
                do throws(MapError) { try outer.set(key, to: held) } catch { unavailable[d.name] = error }
            }
        }
        self.slots = slots
        maps = slots.compactMap { $0 }
        unavailableMaps = unavailable
        mapIDs = RuntimeInventory.register(maps: maps)
    }

    deinit { RuntimeInventory.unregister(maps: mapIDs) }

    /// How ``load(program:target:)`` compiles programs for ``ExecutionMode/jit`` (on x86-64 and arm64
    /// hosts every loaded program is also compiled).
    public var jitOptions = JITProgram.Options()

    /// The map named `name`.
    public func map(named name: String) -> BPFMap? { maps.first { $0.name == name } }

    /// The records written to the object's `__bpf_usdt_specs` map, by id.
    private let usdtSpecifications = Mutex<[[UInt8]: Int32]>([:])

    /// The id under which `record` (a ``USDTSpecification``) is in the object's
    /// `__bpf_usdt_specs` map, written there when new: the cookie its `usdt` programs run with.
    /// Nil when the object has no such map.
    func addUSDTSpecification(_ record: [UInt8]) throws(MapError) -> Int32? {
        guard let map = map(named: USDTSpecification.mapName) else { return nil }
        return try usdtSpecifications.withLock { (written) throws(MapError) -> Int32 in
            if let id = written[record] { return id }
            let id = Int32(written.count)
            try map.update(withUnsafeBytes(of: id.littleEndian, Array.init), record)
            written[record] = id
            return id
        }
    }

    /// Puts `program` (nil: nothing) in slot `index` of the program array `map`, for
    /// `bpf_tail_call`.
    public func setTailCall(map name: String, index: Int, to program: UserspaceProgram?) throws(MapError) {
        guard let array = map(named: name) as? ProgramArrayMap else { throw .invalid(map: name, reason: "not a program array") }
        // A tail call runs the target with its caller's helper state, whose callbacks are the
        // caller's functions: a target that calls back cannot run that way here.
        if let program, program.interpreter.instructions.contains(where: { $0.isWide && $0.src == WideImmediateKind.function.rawValue }) {
            throw .invalid(
                map: name, reason: "program \(program.name) calls functions back (bpf_loop and the like), which the userspace runtime cannot do in a tail call")
        }
        try array.set(index, handle: program?.interpreter.entryHandle ?? 0, owner: program)
    }

    /// Prepares program `name` (the only one when nil), CO-RE relocated against `target` when
    /// given (the BTF of the kernel whose data the program will read).
    ///
    /// The verifier proves the program safe first, and a program it refuses is not loaded
    /// (``RuntimeError/refused(program:_:)`` says why). `verify: false` skips the proof: only
    /// checked execution is then safe.
    public func load(program name: String? = nil, target: BTF? = nil, verify: Bool = true) throws(RuntimeError) -> UserspaceProgram {
        let (program, kind, linked) = try object.prepare(name, target: target)
        guard let support = ProgramTypeSupport.of(kind.type) else { throw .unsupportedProgramType(program: program.name, kind.type) }
        let report = verify ? try Self.verify(program, kind, linked, maps: object.maps, license: object.license, target: target, log: false) : nil
        var code = linked.instructions
        for reference in linked.mapReferences {
            guard let map = slots[reference.map] else {
                let name = object.maps[reference.map].name
                throw .mapUnavailable(program: program.name, map: name, unavailableMaps[name] ?? .invalid(map: name, reason: "not created"))
            }
            var address = UInt64(UInt(bitPattern: Unmanaged.passUnretained(map).toOpaque()))
            if let offset = reference.valueOffset {
                address = UInt64(UInt(bitPattern: map.storage.baseAddress)) + UInt64(offset)  // the single value
            }
            let i = reference.instruction
            code[i].src = WideImmediateKind.immediate.rawValue
            code[i].imm = Int32(truncatingIfNeeded: address)
            code[i + 1].imm = Int32(truncatingIfNeeded: address >> 32)
        }
        return try Self.engines(
            code, support: support, report: report, maps: maps, jitOptions: jitOptions, name: program.name, section: program.section, type: kind.type,
            object: self)
    }

    /// `code` (its map references resolved) made ready to run: context accesses converted to the
    /// runtime's context, decoded once, and compiled where the host has the JIT.
    static func engines(
        _ code: [Instruction], support: ProgramTypeSupport, report: VerifierReport?, maps: [BPFMap], jitOptions: JITProgram.Options,
        name: String, section: String, type: ProgramType, object: UserspaceObject?
    ) throws(RuntimeError) -> UserspaceProgram {
        var code = code
        if let fields = support.contextFields {
            // A verified program's context accesses are those the verifier typed; an unverified
            // one's are found by the conversion's own data-flow pass.
            do throws(ContextConversion.Failure) {
                if let report {
                    code = try ContextConversion.convert(code, fields: fields, verifiedAccesses: report.contextAccesses)
                } else {
                    code = try ContextConversion.convert(code, fields: fields)
                }
            } catch {
                throw .engine(program: name, .unsupported(instruction: error.index, reason: error.description))
            }
        }
        let interpreter: Interpreter, decoded: DecodedProgram
        var jit: JITProgram?
        do throws(PreparationError) {
            // Validated once (by the verifier, when it ran) and decoded once, for both engines.
            decoded = try DecodedProgram(code, helpers: support.helpers, validated: report != nil)
            interpreter = Interpreter(decoded, maps: maps)
            if JITProgram.isSupported {
                let compiled = try JITProgram(decoded, maps: maps, options: jitOptions)
                interpreter.setNativeEntry(compiled.nativeEntry)  // tail calls from compiled code land there
                jit = compiled
            }
        } catch { throw .engine(program: name, error) }
        return UserspaceProgram(
            name: name, section: section, type: type, support: support, decoded: decoded, interpreter: interpreter, jit: jit, object: object,
            verification: report)
    }
}

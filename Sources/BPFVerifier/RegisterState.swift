import BPFCore

/// What a register holds, as far as the verifier knows: its type, and for pointers where in
/// their region they point (a fixed offset plus a variable part kept as ``ScalarBounds``).
package struct Register: Hashable, Sendable {
    /// The register types the verifier tells apart, with the kernel's names.
    package enum Kind: UInt8, Sendable {
        case notInit, scalar, context, stack, packet, packetMeta, packetEnd, mapPointer, mapValue, memory
        /// `PTR_TO_BTF_ID`, trusted: a kernel object a tracing program's argument or
        /// `bpf_get_current_task_btf` gives. It may be passed on, compared and moved by
        /// constants; reading through it (the kernel's BTF walk) is not done here.
        case btfPointer
        /// `PTR_TO_MAP_KEY`: a key of a map, read-only (a `bpf_for_each_map_elem` callback's).
        case mapKey
        /// `PTR_TO_FUNC`: a subprogram (`lddw rX, function`), for a helper to call back; its
        /// entry instruction is the ``Register/offset``.
        case function

        var name: String {
            switch self {
            case .notInit: "?"
            case .scalar: "scalar"
            case .context: "ctx"
            case .stack: "fp"
            case .packet: "pkt"
            case .packetMeta: "pkt_meta"
            case .packetEnd: "pkt_end"
            case .mapPointer: "map_ptr"
            case .mapValue: "map_value"
            case .memory: "mem"
            case .btfPointer: "ptr_"
            case .function: "func"
            case .mapKey: "map_key"
            }
        }

        var isPointer: Bool { self != .notInit && self != .scalar }
    }

    package var kind: Kind = .notInit
    /// A map value or memory that may be NULL until a comparison with zero says otherwise.
    package var maybeNull = false
    /// The fixed part of a pointer's offset into its region.
    package var offset: Int64 = 0
    /// A scalar's value, or the variable part of a pointer's offset.
    package var value: ScalarBounds = .constant(0)
    /// Shared by copies of one value: a NULL check, a packet bounds check or a comparison of
    /// one copy narrows them all.
    package var id: UInt32 = 0
    /// The acquired reference (a ring buffer record) this pointer holds, or 0.
    package var referenceID: UInt32 = 0
    /// Packet pointers: bytes from the packet's start (plus the variable part) proven inside
    /// the packet. Memory: its size in bytes.
    package var range: Int64 = 0
    /// Map pointers and map values: the map's index in the program's map list.
    package var map: Int32 = -1
    /// Stack pointers: the call frame whose stack they point into.
    package var frame: Int = 0
    /// Kernel object pointers: the object's BTF type id in the configuration's kernel types, 0
    /// where unknown (then it cannot be read through).
    package var btfType: UInt32 = 0
    /// Kernel object pointers: how far they are trusted (helpers take trusted, RCU and plain
    /// ones; only trusted ones are known not to be NULL).
    package var trust = KernelPointerTrust.trusted

    package init() {}

    package static let uninitialized = Register()

    package static func scalar(_ value: ScalarBounds) -> Register {
        var r = Register()
        r.kind = .scalar
        r.value = value
        return r
    }

    package static let unknownScalar = scalar(.unknown)

    package static func pointer(_ kind: Kind, offset: Int64 = 0) -> Register {
        var r = Register()
        r.kind = kind
        r.offset = offset
        return r
    }

    var isScalar: Bool { kind == .scalar }
    var isInitialized: Bool { kind != .notInit }
    /// Whether the pointer's offset is exactly known.
    var hasFixedOffset: Bool { value.constantValue == 0 }

    /// The type's name as the kernel prints it in messages (`scalar`, `map_value_or_null`).
    var typeName: String {
        switch kind {
        case .mapValue where maybeNull: "map_value_or_null"
        case .memory where maybeNull: "mem_or_null"
        case .stack: "fp"
        case .btfPointer where btfType == Register.untypedKernelMemory: "rdonly_untrusted_mem"
        case .btfPointer where maybeNull: String(trust.prefix.dropLast()) + "_or_null_"
        case .btfPointer: trust.prefix
        default: kind.name
        }
    }
}

extension Register: CustomStringConvertible {
    /// The kernel's rendering in verifier logs: `scalar(umax=255)`, `fp-8`, `pkt(off=14,r=14)`.
    package var description: String { rendered(maps: [], mapNames: [], kernelTypes: nil) }

    /// The rendering with what the configuration names: maps (`map_value(map=counts,ks=4,vs=8)`)
    /// and kernel object types (`trusted_ptr_task_struct()`).
    func rendered(maps: [MapShape], mapNames: [String], kernelTypes: (any KernelObjectTypes)?) -> String {
        switch kind {
        case .notInit: return "?"
        case .scalar:
            let v = value.description
            return value.isConstant ? v : "scalar(\(v))"
        case .stack where hasFixedOffset:
            return "fp\(offset)"
        default:
            var parts: [String] = []
            if id != 0 { parts.append("id=\(id)") }
            if referenceID != 0 { parts.append("ref_obj_id=\(referenceID)") }
            if [.mapPointer, .mapValue].contains(kind), maps.indices.contains(Int(map)) {
                if mapNames.indices.contains(Int(map)), !mapNames[Int(map)].isEmpty { parts.append("map=\(mapNames[Int(map)])") }
                parts.append("ks=\(maps[Int(map)].keySize),vs=\(maps[Int(map)].valueSize)")
            }
            if offset != 0 { parts.append("off=\(offset)") }
            if kind == .packet { parts.append("r=\(range)") }
            if kind == .memory { parts.append("sz=\(range)") }
            if !hasFixedOffset { parts.append(value.description) }
            var name = typeName
            if kind == .btfPointer, btfType != 0, btfType != Register.untypedKernelMemory, let types = kernelTypes {
                name += types.name(ofType: btfType)
            }
            return "\(name)(\(parts.joined(separator: ",")))"
        }
    }
}

public import BPFCore

/// What a program may do with its context (the memory r1 points to at entry): how large it is,
/// which fields load packet pointers, which bytes may be read and which written — the kernel's
/// `is_valid_access` for the program type.
public struct ContextLayout: Sendable, Equatable {
    /// What a field loads into the register.
    public enum FieldKind: Sendable, Equatable {
        case packet, packetEnd, packetMeta
        /// A kernel object of this BTF type id (in the configuration's ``Verifier/Configuration/kernelTypes``),
        /// or NULL where `nullable`.
        case btfPointer(type: UInt32, nullable: Bool = false)
        /// A number whose low 32 bits are a signed value in this range (an LSM hook's return value
        /// so far).
        case int32(in: ClosedRange<Int32>)
    }

    /// An argument of a tracing program's attach target, as its context presents it (a u64 each).
    public enum TracingArgument: Sendable, Equatable {
        /// An integer, enum or struct by value: read at any aligned width, a number.
        case number
        /// A pointer to void or to an integer: read whole, a number.
        case opaquePointer
        /// A pointer to a kernel object: read whole, a trusted `PTR_TO_BTF_ID`.
        case objectPointer(type: UInt32, nullable: Bool = false)
        /// Not readable at all (a float, an array, a void return value).
        case inaccessible
        /// An LSM hook's return value so far: read whole, an int in this range.
        case returnValue(ClosedRange<Int32>)
    }

    /// A tracing program's context (`btf_ctx_access`): its attach target's arguments, each a
    /// u64, read-only, then for fexit and fmod_ret the return value, as the kernel presents them.
    public static func tracing(arguments: [TracingArgument]) -> ContextLayout {
        ContextLayout(size: 8 * arguments.count, readable: []).with(.tracing(arguments))
    }

    /// Size of the context in bytes; no access may reach past it.
    public var size: Int
    /// Fields holding packet pointers: their offset, width and what they load.
    public var pointerFields: [(offset: Int, size: Int, kind: FieldKind)]
    /// Byte ranges that may be read (as numbers), and that may be written.
    public var readable: [Range<Int>]
    public var writable: [Range<Int>]
    /// Whether every access must be naturally aligned and of one field's width (true for the
    /// kernel's fixed structures; tracing records only require alignment).
    public var exactWidth: Bool
    /// The kernel's rules for this context, where the layout is one of the kernel's: they
    /// decide every access, field by field (the ranges above then only describe the layout).
    package var rules: ContextAccessRules?

    public init(
        size: Int, pointerFields: [(offset: Int, size: Int, kind: FieldKind)] = [], readable: [Range<Int>], writable: [Range<Int>] = [],
        exactWidth: Bool = false
    ) {
        self.size = size
        self.pointerFields = pointerFields
        self.readable = readable
        self.writable = writable
        self.exactWidth = exactWidth
    }

    public static func == (a: ContextLayout, b: ContextLayout) -> Bool {
        a.size == b.size && a.readable == b.readable && a.writable == b.writable && a.exactWidth == b.exactWidth
            && a.rules == b.rules
            && a.pointerFields.elementsEqual(b.pointerFields) { $0.offset == $1.offset && $0.size == $1.size && $0.kind == $1.kind }
    }

    /// `struct xdp_md`: six u32 fields, the first three the packet's data, end and metadata
    /// (`egress_ifindex` is only for devmap programs).
    public static let xdp = ContextLayout(
        size: 24, pointerFields: [(0, 4, .packet), (4, 4, .packetEnd), (8, 4, .packetMeta)],
        readable: [12..<20], exactWidth: true
    ).with(.xdp)

    /// `struct __sk_buff` as a socket filter sees it: no direct packet access, no time
    /// stamps or `wire_len`, and only `cb[]` writable.
    public static let socketFilter = ContextLayout(
        size: 192, readable: [0..<72, 84..<88, 164..<168, 176..<180], writable: [48..<68]
    ).with(.socketFilter)

    /// `struct __sk_buff` for tc classifiers and actions: packet pointers, and the fields tc
    /// may set (mark, queue_mapping, priority, tc_index, cb[], tc_classid, tstamp).
    public static let tc = ContextLayout(
        size: 192, pointerFields: [(76, 4, .packet), (80, 4, .packetEnd), (140, 4, .packetMeta)],
        readable: [0..<76, 84..<88, 152..<168, 176..<181, 184..<192],
        writable: [8..<16, 32..<36, 44..<76, 152..<160]
    ).with(.tc)

    /// `struct __sk_buff` for cgroup socket-buffer programs: the packet readable, not
    /// writable; mark, priority, cb[] and tstamp writable; the socket's fields readable; no
    /// tc_classid, data_meta, wire_len or tstamp_type.
    public static let cgroupSKB = ContextLayout(
        size: 192, pointerFields: [(76, 4, .packet), (80, 4, .packetEnd)],
        readable: [0..<72, 84..<140, 152..<160, 164..<168, 176..<180, 184..<192],
        writable: [8..<12, 32..<36, 48..<68, 152..<160]
    ).with(.cgroupSKB)

    /// A tracepoint's record: any aligned read past the common header, up to the largest
    /// record (`PERF_MAX_TRACE_SIZE`).
    public static let tracepoint = ContextLayout(size: 8192, readable: [8..<8192]).with(.tracepoint)

    /// Raw tracepoints: the tracepoint's arguments as an array of u64.
    public static let rawTracepoint = ContextLayout(size: 96, readable: [0..<96]).with(.rawTracepoint)

    /// kprobes: `struct pt_regs` (x86-64).
    public static let kprobe = ContextLayout(size: 168, readable: [0..<168]).with(.kprobe)

    /// perf events: `struct bpf_perf_event_data`, the registers then `sample_period` and `addr`.
    public static let perfEvent = ContextLayout(size: 184, readable: [0..<184]).with(.perfEvent)

    /// A context whose every access the kernel's rules decide: `size` bytes.
    private static func ruled(_ size: Int, _ rules: ContextAccessRules) -> ContextLayout {
        ContextLayout(size: size, readable: []).with(rules)
    }

    /// The layout the kernel gives programs of `type` loaded for `attachType` (its
    /// `expected_attach_type`, which decides fields of cgroup socket, socket address and
    /// sockopt contexts), or nil where SwiftBPF knows none (the context may then not be
    /// accessed).
    public static func standard(for type: ProgramType, attachType: AttachType? = nil) -> ContextLayout? {
        switch type {
        case .skSKB: ruled(192, .skSKB)
        case .lwtIn, .lwtOut, .lwtXmit, .lwtSeg6Local: ruled(192, .lwt)
        case .flowDissector: ruled(192, .flowDissector)
        case .cgroupSock: ruled(80, .cgroupSock(attachType))
        case .cgroupSockAddr: ruled(72, .sockAddr(attachType))
        case .sockOps: ruled(224, .sockOps)
        case .skMsg: ruled(80, .skMsg)
        case .skLookup: ruled(72, .skLookup)
        case .cgroupSockopt: ruled(40, .sockopt(attachType))
        case .cgroupSysctl: ruled(8, .sysctl)
        case .cgroupDevice: ruled(12, .cgroupDevice)
        case .xdp: .xdp
        case .socketFilter: .socketFilter
        case .schedCLS, .schedACT: .tc
        case .cgroupSKB: .cgroupSKB
        case .tracepoint: .tracepoint
        case .rawTracepoint, .rawTracepointWritable: .rawTracepoint
        case .kprobe: .kprobe
        case .perfEvent: .perfEvent
        default: nil
        }
    }

    private func with(_ rules: ContextAccessRules) -> ContextLayout {
        var layout = self
        layout.rules = rules
        return layout
    }

    /// What loading `size` bytes at `offset` gives (`signExtending`: a `ldsx`): a number
    /// (nil), a packet pointer, or why it is not allowed.
    func load(offset: Int64, size: Int, signExtending: Bool) throws(ContextRefusal) -> FieldKind? {
        if let rules {
            switch rules.check(offset: offset, size: size, write: false, signExtending: signExtending) {
            case .refused: throw ContextRefusal(offset: offset, size: size)
            case .number: return nil
            case .pointer(let kind): return kind
            }
        }
        if let field = pointerFields.first(where: { offset >= $0.offset && offset < $0.offset + $0.size }) {
            guard offset == field.offset, size == field.size, !signExtending else { throw ContextRefusal(offset: offset, size: size) }
            return field.kind
        }
        guard check(offset: offset, size: size, in: readable) else { throw ContextRefusal(offset: offset, size: size) }
        return nil
    }

    /// Whether `size` bytes at `offset` may be stored to.
    func store(offset: Int64, size: Int) throws(ContextRefusal) {
        if let rules {
            guard rules.check(offset: offset, size: size, write: true, signExtending: false) != .refused else {
                throw ContextRefusal(offset: offset, size: size)
            }
            return
        }
        guard check(offset: offset, size: size, in: writable) else { throw ContextRefusal(offset: offset, size: size) }
    }

    private func check(offset: Int64, size: Int, in ranges: [Range<Int>]) -> Bool {
        guard offset >= 0, offset + Int64(size) <= Int64(self.size), offset % Int64(size) == 0 else { return false }
        let offset = Int(offset)
        if exactWidth && size != 4 { return false }
        return ranges.contains { $0.contains(offset) && offset + size <= $0.upperBound }
    }
}

/// An access the context layout does not allow.
struct ContextRefusal: Error {
    var offset: Int64
    var size: Int
    var message: String { "invalid bpf_context access off=\(offset) size=\(size)" }
}

package import BPFCore

/// Rewrites a program's context accesses for the userspace runtime's context layout, as the
/// kernel's verifier does for its own (`convert_ctx_accesses`). Which loads read the context is
/// found by a data-flow pass over every path: a load is rewritten only where its base register
/// holds the context pointer on *every* path that reaches it; one that holds it on some paths
/// only is refused rather than guessed.
package enum ContextConversion {
    /// One context field: the offset and width programs use (UAPI), where the runtime keeps
    /// it, and whether programs may store to it.
    public struct Field: Sendable {
        public var offset: Int16
        public var size: Int
        public var runtimeOffset: Int16
        public var runtimeSize: MemSize
        public var writable = false
    }

    /// Why a program's context use cannot be converted.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var index: Int
        public var message: String
        public var description: String { "instruction \(index): \(message)" }
    }

    /// `struct xdp_md` (u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index,
    /// egress_ifindex) onto ``XDPContext``, whose packet pointers are full 64-bit addresses.
    public static let xdp: [Field] = [
        Field(offset: 0, size: 4, runtimeOffset: 0, runtimeSize: .dw),
        Field(offset: 4, size: 4, runtimeOffset: 8, runtimeSize: .dw),
        Field(offset: 8, size: 4, runtimeOffset: 16, runtimeSize: .dw),
        Field(offset: 12, size: 4, runtimeOffset: 24, runtimeSize: .w),
        Field(offset: 16, size: 4, runtimeOffset: 28, runtimeSize: .w),
        Field(offset: 20, size: 4, runtimeOffset: 32, runtimeSize: .w),
    ]

    /// Returns `code` with every context load and store rewritten to `fields`' runtime layout.
    /// - Throws: ``Failure`` for an access to no known field, a store to a field that is not
    ///   writable (or an atomic one to any), or an access whose base holds the context on some
    ///   paths only.
    public static func convert(_ code: [Instruction], fields: [Field]) throws(Failure) -> [Instruction] {
        var out = code
        for i in try contextAccesses(code) { try convert(&out, at: i, fields: fields) }
        return out
    }

    /// Returns `code` with the accesses the verifier found to reach the context
    /// (``BPFVerifier/VerifierReport/contextAccesses``) rewritten: no data-flow pass of its own.
    package static func convert(_ code: [Instruction], fields: [Field], verifiedAccesses: [Int]) throws(Failure) -> [Instruction] {
        var out = code
        for i in verifiedAccesses { try convert(&out, at: i, fields: fields) }
        return out
    }

    /// Rewrites the context access at `i` to `fields`' runtime layout.
    private static func convert(_ out: inout [Instruction], at i: Int, fields: [Field]) throws(Failure) {
        let insn = out[i]
        let store = insn.opClass != .ldx
        guard insn.opcode & 0xe0 == MemMode.mem.rawValue else {
            throw Failure(index: i, message: "invalid bpf_context access: \(Disassembler.text(insn)) (no atomic operations on the context)")
        }
        let size = MemSize(rawValue: insn.opcode & 0x18)!.byteCount
        guard let field = fields.first(where: { $0.offset == insn.offset && $0.size == size }) else {
            throw Failure(index: i, message: "invalid bpf_context access off=\(insn.offset) size=\(size)")
        }
        guard !store || field.writable else {
            throw Failure(index: i, message: "invalid bpf_context access: \(Disassembler.text(insn)) (the field at \(insn.offset) is read-only)")
        }
        out[i].opcode = insn.opClass.rawValue | MemMode.mem.rawValue | field.runtimeSize.rawValue
        out[i].offset = field.runtimeOffset
    }

    /// The loads and stores whose base register holds the context on every path that reaches
    /// them, found by a data-flow pass of this module's own (for programs no verifier has seen).
    /// - Throws: ``Failure`` for an access whose base holds the context on some paths only.
    private static func contextAccesses(_ code: [Instruction]) throws(Failure) -> [Int] {
        // Per instruction: registers that surely hold the context, and that may hold it.
        let count = code.count
        var sure = [UInt16?](repeating: nil, count: count)
        var maybe = [UInt16](repeating: 0, count: count)
        sure[0] = 1 << 1
        maybe[0] = 1 << 1
        var work = [0]
        /// Merges a state into instruction `next` (surely: intersection; maybe: union) and
        /// queues it when that changed anything.
        func propagate(to next: Int, sure s: UInt16, maybe m: UInt16) {
            guard next >= 0, next < count else { return }
            let merged = sure[next].map { $0 & s } ?? s, mergedMaybe = maybe[next] | m
            guard sure[next] != merged || maybe[next] != mergedMaybe else { return }
            sure[next] = merged
            maybe[next] = mergedMaybe
            work.append(next)
        }
        while let i = work.popLast() {
            let insn = code[i]
            var (s, m) = (sure[i]!, maybe[i])
            let cls = insn.opClass
            func clear(_ r: UInt8) { s &= ~(1 << r); m &= ~(1 << r) }
            switch cls {
            case .alu, .alu64:
                if insn.opcode == 0xbf, insn.offset == 0 {  // r_dst = r_src keeps the context pointer
                    let sureBit = s & (1 << insn.src) != 0, maybeBit = m & (1 << insn.src) != 0
                    clear(insn.dst)
                    if sureBit { s |= 1 << insn.dst }
                    if maybeBit { m |= 1 << insn.dst }
                } else {
                    clear(insn.dst)
                }
            case .ldx, .ld: clear(insn.dst)
            case .stx where insn.opcode & 0xe0 == MemMode.atomic.rawValue:
                if AtomicOp(rawValue: insn.imm)?.fetches == true { clear(insn.imm == AtomicOp.cmpxchg.rawValue ? 0 : insn.src) }
            case .jmp where insn.opcode & 0xf0 == JumpOp.call.rawValue:
                for r in UInt8(0)...5 { clear(r) }
            default: break
            }
            if insn.opcode == 0x85, insn.src == CallKind.local.rawValue {
                // The callee may receive the context in r1-r5, but never surely: an access
                // through it there is refused, not guessed.
                propagate(to: i + 1 + Int(insn.imm), sure: 0, maybe: maybe[i] & 0b11_1110)
            }
            if insn.opcode != 0x95 {
                if let d = Validator.branchDisplacement(insn), insn.opcode != 0x85 { propagate(to: i + 1 + d, sure: s, maybe: m) }
                let unconditional = insn.opcode == 0x05 || insn.opcode == 0x06
                if !unconditional { propagate(to: i + (insn.isWide ? 2 : 1), sure: s, maybe: m) }
            }
        }
        var accesses: [Int] = []
        for (i, insn) in code.enumerated() {
            guard let s = sure[i] else { continue }  // unreachable
            let m = maybe[i]
            let base: UInt8
            switch insn.opClass {
            case .ldx: base = insn.src
            case .st, .stx: base = insn.dst
            default: continue
            }
            guard m & (1 << base) != 0 else { continue }
            guard s & (1 << base) != 0 else {
                throw Failure(index: i, message: "r\(base) holds the context on some paths only; the access cannot be converted")
            }
            accesses.append(i)
        }
        return accesses
    }
}

/// The XDP context the userspace runtime gives a program: `struct xdp_md`'s fields with the
/// packet pointers as real 64-bit addresses (programs are converted to read it by
/// ``ContextConversion``), then the frame's bounds, which only helpers see.
package struct XDPContext {
    public var data: UInt64
    public var dataEnd: UInt64
    public var dataMeta: UInt64
    public var ingressIfindex: UInt32
    public var rxQueueIndex: UInt32
    public var egressIfindex: UInt32
    /// Start of the frame buffer (`data_hard_start`).
    public var hardStart: UInt64
    /// The last byte packet data may grow to (`xdp_data_hard_end`).
    public var hardEnd: UInt64

    public init(data: UInt64, dataEnd: UInt64, hardStart: UInt64, hardEnd: UInt64, ingressIfindex: UInt32 = 1, rxQueueIndex: UInt32 = 0) {
        self.data = data
        self.dataEnd = dataEnd
        self.dataMeta = data
        self.ingressIfindex = ingressIfindex
        self.rxQueueIndex = rxQueueIndex
        self.egressIfindex = 0
        self.hardStart = hardStart
        self.hardEnd = hardEnd
    }
}

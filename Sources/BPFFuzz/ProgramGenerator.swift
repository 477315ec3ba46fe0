import BPFCore
import BPFKernel
import BTF
import BPFTestSupport

/// Structured random programs aimed where verifiers differ: each program is a prologue that
/// sets up the usual registers (r6 the context; r7 and r8 packet data and end, where the type
/// has a packet; r9 a map value that may still be NULL), a chain of gadgets — each a few
/// instructions exercising one class of the kernel's rules with values drawn from the edges
/// (0, ±1, widths, 2^29, 2^31, 2^32, 2^63) — whose branches skip forward over later gadgets,
/// and subprograms that move pointers across frames.
package struct ProgramGenerator {
    private var g: SplitMix64

    package init(seed: UInt64) { g = SplitMix64(state: seed) }

    /// The program types generated, with the offsets of their contexts' data and data_end and
    /// those fields' width.
    private static let types: [(ProgramType, packet: (Int16, Int16, Int)?)] = [
        (.xdp, (0, 4, 4)), (.schedCLS, (76, 80, 4)), (.socketFilter, nil), (.tracepoint, nil), (.cgroupSKB, (76, 80, 4)), (.perfEvent, nil),
        (.xdp, (0, 4, 4)), (.schedCLS, (76, 80, 4)), (.tracepoint, nil), (.skSKB, (76, 80, 4)), (.lwtIn, (76, 80, 4)), (.lwtXmit, (76, 80, 4)),
        (.sockOps, (192, 200, 8)), (.skMsg, (0, 8, 8)), (.cgroupSock, nil),
    ]

    package mutating func next() -> FuzzProgram {
        let (type, packet) = Self.types[pick(Self.types.count)]
        var b = Builder(type: type)
        b.gadget { b in
            b.emit(mov64(6, reg: 1))
            if let (data, end, width) = packet {
                b.emit(ldx(7, 6, data, size: width))
                b.emit(ldx(8, 6, end, size: width))
            } else {
                b.emit(mov64(7, reg: 10))
                b.emit(mov64(8, imm: 0))
            }
        }
        if chance(3, in: 4) { mapLookup(&b, into: 9) } else { b.gadget { $0.emit(mov64(9, reg: 10)) } }
        // Each gadget is kept when our verifier still accepts the program with it, else
        // drawn again (and after three tries kept now and then): programs then go deep, to
        // where a rule of the kernel's we miss would show as a program only we accept.
        for _ in 0..<(2 + pick(9)) {
            var kept = false
            for attempt in 0..<4 where !kept {
                var candidate = b
                randomGadget(&candidate)
                if candidate.finish().ourVerdict().isAccepted || (attempt == 3 && chance(1, in: 3)) {
                    b = candidate
                    kept = true
                }
            }
        }
        // Once in a while, an instruction the kernel does not have, wherever it lands.
        if chance(1, in: 50) {
            b.gadget { b in
                b.note(.indirectCall); b.emit(mov64(2, imm: 7)); b.emit(Instruction(opcode: 0x8d, dst: 2))
            }
        }
        return b.finish()
    }

    // MARK: - Randomness

    private mutating func pick(_ n: Int) -> Int { Int(g.next() % UInt64(n)) }
    private mutating func chance(_ k: Int, in n: Int) -> Bool { pick(n) < k }
    private mutating func element<T>(_ xs: [T]) -> T { xs[pick(xs.count)] }

    /// Numbers at the edges of what verifiers reason about.
    private static let edgeValues: [Int64] = [
        0, 1, 2, 3, 4, 7, 8, 12, 14, 15, 16, 20, 31, 32, 48, 63, 64, 255, 256, 511, 512, 0xffff, 0x10000, 65544,
        (1 << 29) - 1, 1 << 29, 1 << 30, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 1 << 32,
        -1, -2, -4, -8, -16, -512, -513, -(1 << 29), -(1 << 31), Int64.min, Int64.max,
    ]
    private mutating func edge() -> Int64 { element(Self.edgeValues) }
    private mutating func smallSize() -> Int64 { element([0, 1, 2, 4, 7, 8, 16, 17, 48, 64, 512, 1 << 29]) }
    private mutating func stackOffset() -> Int16 {
        chance(4, in: 5) ? Int16(-8 * (1 + pick(8))) : Int16(element([-1, -2, -3, -4, -6, -512, -513, -520, 0, 4, 8]))
    }
    private mutating func size() -> Int { element([1, 2, 4, 8]) }
    /// A register, biased toward the prologue's.
    private mutating func register() -> UInt8 { chance(2, in: 3) ? UInt8(6 + pick(4)) : UInt8(pick(10)) }
    private mutating func pointerRegister() -> UInt8 { chance(4, in: 5) ? element([6, 7, 9, 10, 0]) : UInt8(pick(11)) }

    private mutating func constant(_ b: inout Builder, _ r: UInt8, _ v: Int64) {
        if v >= Int64(Int32.min), v <= Int64(Int32.max) { b.emit(mov64(r, imm: Int32(v))) } else { b.emit(contentsOf: lddw(r, UInt64(bitPattern: v))) }
    }

    /// A number in a register: known, from the context, from `bpf_get_prandom_u32`, masked.
    private mutating func scalar(_ b: inout Builder, into r: UInt8) {
        switch pick(4) {
        case 0: constant(&b, r, edge())
        case 1:
            b.note(.contextScalar)
            b.emit(ldx(r, 6, contextOffset(b.type), size: element([1, 2, 4])))
        default:
            b.note(.randomScalar)
            b.emit(call(7))
            if r != 0 { b.emit(mov64(r, reg: 0)) }
            if chance(2, in: 3) { b.emit(alu64(.and, r, imm: Int32(truncatingIfNeeded: element([1, 3, 7, 0xff, 0xffff, 0x7fff_ffff, -1] as [Int64])))) }
            if chance(1, in: 3) { b.emit(alu64(element([.add, .sub, .or]), r, imm: Int32(truncatingIfNeeded: edge()))) }
        }
    }

    private mutating func contextOffset(_ type: ProgramType) -> Int16 {
        switch type {
        case .xdp: return chance(4, in: 5) ? Int16(4 * pick(6)) : Int16(pick(32))
        case .tracepoint: return chance(4, in: 5) ? Int16(8 * pick(8)) : Int16(pick(64))
        case .perfEvent: return chance(4, in: 5) ? Int16(element([0, 8, 128, 160, 168, 172, 176, 180, 184])) : Int16(pick(192))
        case .sockOps: return chance(4, in: 5) ? Int16(element([0, 4, 8, 20, 64, 164, 168, 176, 184, 192, 200, 208, 212, 216])) : Int16(pick(232))
        case .skMsg: return chance(4, in: 5) ? Int16(element([0, 8, 16, 20, 28, 60, 64, 68, 72])) : Int16(pick(88))
        case .cgroupSock: return chance(4, in: 5) ? Int16(element([0, 4, 16, 20, 24, 44, 48, 50, 52, 72, 76])) : Int16(pick(88))
        default:
            return chance(4, in: 5)
                ? Int16(element([0, 4, 8, 12, 16, 32, 44, 48, 56, 64, 68, 72, 76, 80, 84, 88, 140, 144, 152, 160, 164, 168, 176, 180, 184])) : Int16(pick(196))
        }
    }

    // MARK: - Gadgets

    private mutating func mapLookup(_ b: inout Builder, into r: UInt8) {
        b.gadget { b in
            b.emit(st(10, -8, imm: 0, size: 8))
            b.emit(mov64(2, reg: 10))
            b.emit(alu64(.add, 2, imm: -8))
            b.emit(contentsOf: lddwMap(1, element([FuzzMaps.array, FuzzMaps.hash, FuzzMaps.readOnly])))
            b.emit(call(1))
            b.emit(mov64(r, reg: 0))
        }
    }

    /// A lookup in a map of maps, then in the map it gives: with or without the NULL check, the
    /// inner value read in or out of bounds, the outer result used as a value.
    private mutating func mapOfMapsLookup(_ b: inout Builder) {
        b.note(.mapOfMaps)
        b.emit(st(10, -8, imm: 0, size: 8))
        b.emit(mov64(2, reg: 10))
        b.emit(alu64(.add, 2, imm: -8))
        b.emit(contentsOf: lddwMap(1, FuzzMaps.maps))
        b.emit(call(1))
        // `if r0 == 0 goto` past what follows, when checked.
        var read: [Instruction] = [ldx(element([3, 9] as [UInt8]), 0, Int16(element([0, 8, 40, 44, 48, -8] as [Int])), size: element([4, 8]))]
        if chance(3, in: 4) { read.insert(Instruction(opcode: 0x15, dst: 0, offset: 1), at: 0) }
        var inner: [Instruction] = [mov64(1, reg: 0), mov64(2, reg: 10), alu64(.add, 2, imm: -8), call(1)] + read
        if chance(1, in: 6) { inner.insert(ldx(3, 0, 0, size: 4), at: 0) }  // a map is not memory
        if chance(3, in: 4) { b.emit(Instruction(opcode: 0x15, dst: 0, offset: Int16(inner.count))) }
        b.emit(contentsOf: inner)
    }

    private mutating func randomGadget(_ b: inout Builder) {
        let choice = pick(33)
        b.gadget { b in
            switch choice {
            case 0: b.note(.constant); constant(&b, register(), edge())
            case 1, 2: b.note(.alu); scalar(&b, into: register()); aluOp(&b, is64: true)
            case 3: b.note(.alu32); scalar(&b, into: register()); aluOp(&b, is64: false)
            case 4: branch(&b)
            case 5: branch(&b)
            case 6:
                b.note(.nullCheck)
                b.jump(Instruction(opcode: element([0x15, 0x55, 0x25, 0xb5, 0x1d, 0x16]), dst: element([9, 0, 9, 7, 8]), src: 0), over: 1 + pick(3))
            case 7, 8: packetCheck(&b)
            case 9:
                b.note(.stackStore)
                if chance(1, in: 2) {
                    b.emit(st(10, stackOffset(), imm: Int32(truncatingIfNeeded: edge()), size: size()))
                } else {
                    b.emit(stx(10, stackOffset(), register(), size: size()))
                }
            case 10: b.note(.stackLoad); b.emit(ldx(register(), 10, stackOffset(), size: size()))
            case 11:
                b.note(.spillPointer)
                let off = Int16(-8 * (1 + pick(8)))
                b.emit(stx(10, off, pointerRegister(), size: 8))
                b.note(.fillNarrow)
                b.emit(ldx(register(), 10, off + Int16(chance(1, in: 3) ? element([1, 2, 4]) : 0), size: chance(1, in: 2) ? 8 : size()))
            case 12: variableStack(&b)
            case 13, 14: pointerArithmetic(&b)
            case 15:
                b.note(.memoryLoad);
                b.emit(ldx(register(), pointerRegister(), Int16(element([0, 1, 4, 8, 16, 40, 44, 47, 48, -1, -8] as [Int])), size: size()))
            case 16: b.note(.memoryStore); b.emit(stx(pointerRegister(), Int16(element([0, 2, 4, 8, 40, 48, -8] as [Int])), register(), size: size()))
            case 17:
                b.note(.signExtendingLoad)
                let base = pointerRegister()
                b.emit(
                    Instruction(
                        opcode: 0x81 | element([0x00, 0x08, 0x10]), dst: register(), src: base,
                        offset: base == 6 ? contextOffset(b.type) : Int16(element([0, 4, 8, -8] as [Int]))))
            case 18, 19: contextAccess(&b)
            case 20, 21, 22: helperCall(&b)
            case 23: ringbuf(&b)
            case 24: atomic(&b)
            case 25, 26: subprogramCall(&b)
            case 27: legacy(&b)
            case 28:
                b.note(.tailCall)
                b.emit(mov64(1, reg: 6)); b.emit(contentsOf: lddwMap(2, element([FuzzMaps.programs, FuzzMaps.programs, FuzzMaps.array])));
                b.emit(mov64(3, imm: Int32(pick(5)))); b.emit(call(12))
            case 29: kernelObjectRead(&b)
            case 30: loopCallback(&b)
            case 31: kernelFunction(&b)
            case 32: mapOfMapsLookup(&b)
            default: break
            }
        }
    }

    private mutating func aluOp(_ b: inout Builder, is64: Bool) {
        let d = register()
        let op: ALUOp = element([.add, .sub, .mul, .div, .or, .and, .lsh, .rsh, .neg, .mod, .xor, .arsh, .end, .mov])
        let cls: UInt8 = is64 ? 0x07 : 0x04
        switch op {
        case .neg, .end:
            b.note(.negateOrSwap)
            let imm: Int32 = op == .end ? element([16, 32, 64]) : 0
            // `be` (source bit) only in the 32-bit class; ALU64 has the unconditional bswap.
            b.emit(Instruction(opcode: cls | op.rawValue | (op == .end && !is64 && chance(1, in: 2) ? 0x08 : 0), dst: d, imm: imm))
        case .mov where chance(1, in: 2):
            b.note(.signExtend)
            b.emit(Instruction(opcode: cls | op.rawValue | 0x08, dst: d, src: register(), offset: element(is64 ? [8, 16, 32] : [8, 16])))
        default:
            if op == .div || op == .mod { b.note(.divMod) }
            if chance(1, in: 2) {
                if [.lsh, .rsh, .arsh].contains(op) { b.note(.shiftByRegister) }
                b.emit(Instruction(opcode: cls | op.rawValue | 0x08, dst: d, src: register(), offset: (op == .div || op == .mod) && chance(1, in: 3) ? 1 : 0))
            } else {
                var imm = Int32(truncatingIfNeeded: edge())
                if [.lsh, .rsh, .arsh].contains(op) { imm = Int32(pick(is64 ? 64 : 32)) }
                if (op == .div || op == .mod) && imm == 0 { imm = 1 }
                b.emit(Instruction(opcode: cls | op.rawValue, dst: d, imm: imm))
            }
        }
    }

    private mutating func branch(_ b: inout Builder) {
        let is32 = chance(1, in: 3)
        b.note(is32 ? .branch32 : .branch64)
        let op: UInt8 = element([0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0])
        let d = register()
        if chance(1, in: 2) {
            b.jump(Instruction(opcode: (is32 ? 0x06 : 0x05) | op | 0x08, dst: d, src: register()), over: 1 + pick(3))
        } else {
            b.jump(Instruction(opcode: (is32 ? 0x06 : 0x05) | op, dst: d, imm: Int32(truncatingIfNeeded: edge())), over: 1 + pick(3))
        }
    }

    private mutating func packetCheck(_ b: inout Builder) {
        b.note(.packetCheck)
        let r: UInt8 = element([1, 2, 3, 4, 5, 0])
        b.emit(mov64(r, reg: 7))
        if chance(1, in: 3) {
            let v: UInt8 = element([2, 3, 4, 5].filter { $0 != r })
            boundedScalar(&b, into: v)
            b.emit(Instruction(opcode: 0x0f, dst: r, src: v))
            b.emit(Instruction(opcode: 0x0f, dst: 7, src: v))  // the access base moves by the same amount
        }
        b.emit(alu64(.add, r, imm: Int32(truncatingIfNeeded: element([0, 1, 2, 8, 14, 20, 34, 64, 0xffff, 0x10000, 65544, -1, -8] as [Int64]))))
        // pkt' > end, end < pkt', pkt' >= end, end <= pkt', pkt' < end ...
        let forms: [Instruction] = [
            Instruction(opcode: 0x2d, dst: r, src: 8), Instruction(opcode: 0xad, dst: 8, src: r),
            Instruction(opcode: 0x3d, dst: r, src: 8), Instruction(opcode: 0xbd, dst: 8, src: r),
            Instruction(opcode: 0xad, dst: r, src: 8), Instruction(opcode: 0xbd, dst: r, src: 8),
            Instruction(opcode: 0x2d, dst: 8, src: r), Instruction(opcode: 0x3d, dst: 8, src: r),
            Instruction(opcode: 0x2e, dst: r, src: 8), Instruction(opcode: 0x1d, dst: r, src: 8),
        ]
        b.jump(element(forms), over: 1 + pick(2))
        if chance(3, in: 4) { b.emit(ldx(0, 7, Int16(element([0, 1, 4, 6, 7, 8, 13, 14, 19, 20, -1] as [Int])), size: size())) }
    }

    /// A bounded or unbounded number that leaves the other registers alone (no call).
    private mutating func boundedScalar(_ b: inout Builder, into v: UInt8) {
        switch pick(3) {
        case 0: b.emit(ldx(v, 7, 0, size: 1))  // may be out of the packet: the check decides
        case 1: b.emit(ldx(v, 6, contextOffset(b.type), size: 4)); b.emit(alu64(.and, v, imm: element([0xff, 0xffff, 0x7fff_ffff, -1])))
        default: b.emit(mov64(v, imm: Int32(truncatingIfNeeded: edge())))
        }
    }

    private mutating func variableStack(_ b: inout Builder) {
        b.note(.variableStackAccess)
        let v: UInt8 = element([2, 3, 4])
        b.emit(st(10, -16, imm: 0, size: 8))
        b.emit(st(10, -8, imm: 0, size: 8))
        b.emit(ldx(v, 6, contextOffset(b.type), size: 4))
        if chance(3, in: 4) { b.emit(alu64(.and, v, imm: element([1, 3, 7, 8, 15, 0xff]))) }
        let p: UInt8 = 5
        b.emit(mov64(p, reg: 10))
        b.emit(alu64(.add, p, imm: Int32(element([-16, -8, -24, -512, -4] as [Int]))))
        b.emit(Instruction(opcode: 0x0f, dst: p, src: v))
        if chance(1, in: 2) { b.emit(ldx(0, p, Int16(element([0, 1, 4, 8] as [Int])), size: size())) } else { b.emit(stx(p, 0, register(), size: size())) }
    }

    private mutating func pointerArithmetic(_ b: inout Builder) {
        let p = pointerRegister(), d = register()
        if d != p { b.emit(mov64(d, reg: p)) }
        if chance(1, in: 3) {
            b.note(.pointerSubtract)
            if chance(1, in: 2) {
                b.emit(alu64(.sub, d, imm: Int32(truncatingIfNeeded: edge())))
            } else {
                let v: UInt8 = d == 3 ? 4 : 3
                scalar(&b, into: v)
                b.emit(Instruction(opcode: 0x1f, dst: d, src: v))
            }
        } else {
            b.note(.pointerArithmetic)
            if chance(1, in: 2) {
                b.emit(alu64(.add, d, imm: Int32(truncatingIfNeeded: edge())))
            } else {
                let v: UInt8 = d == 3 ? 4 : 3
                scalar(&b, into: v)
                b.emit(Instruction(opcode: chance(1, in: 5) ? 0x0c : 0x0f, dst: d, src: v))
            }
        }
        if chance(1, in: 2) { b.emit(ldx(0, d, Int16(element([0, 4, 8, -8] as [Int])), size: size())) }
    }

    private mutating func contextAccess(_ b: inout Builder) {
        let off = contextOffset(b.type), sz = size()
        switch pick(3) {
        case 0: b.note(.contextStore); b.emit(st(6, off, imm: 0, size: sz))
        case 1: b.note(.contextStore); b.emit(stx(6, off, register(), size: sz))
        default: b.note(.contextLoad); b.emit(ldx(register(), 6, off, size: sz))
        }
    }

    /// A helper call with arguments that are mostly what the helper wants.
    private mutating func helperCall(_ b: inout Builder) {
        b.note(.helperCall)
        let id: Int32
        if chance(1, in: 2) {
            id = element([1, 2, 3, 4, 5, 6, 7, 8, 14, 16, 23, 28, 44, 65, 112, 113, 114, 115, 130, 134, 177, 87, 93])
        } else {
            // Any helper of the kernel's whose arguments the verifier checks: availability by
            // program type, map compatibility and argument rules of the whole table.
            b.note(.helperAnyKernel)
            id = element(Self.checkedHelpers)
        }
        let prototype = HelperPrototypes.arguments(of: id) ?? []
        b.emit(st(10, -16, imm: 0, size: 8))
        b.emit(st(10, -8, imm: 0, size: 8))
        for (i, kind) in prototype.enumerated() {
            let r = UInt8(i + 1)
            let right = chance(4, in: 5)
            switch (kind, right) {
            case (.map, true): b.emit(contentsOf: lddwMap(r, element([FuzzMaps.array, FuzzMaps.hash, FuzzMaps.ringbuf, FuzzMaps.readOnly])))
            case (.context, true): b.emit(mov64(r, reg: 6))
            case (.size, true), (.allocationSize, true):
                b.note(.helperSizeRange)
                if chance(1, in: 2) {
                    b.emit(mov64(r, imm: Int32(smallSize())))
                } else {
                    b.emit(ldx(r, 6, contextOffset(b.type), size: 4))
                    b.emit(alu64(.and, r, imm: element([7, 8, 15, 16, 63])))
                    if chance(1, in: 2) { b.emit(alu64(.add, r, imm: 1)) }
                }
            case (.anything, _): constant(&b, r, edge())
            case (.readableOrNull, _) where !right || chance(1, in: 2): b.note(.helperNullMemory); b.emit(mov64(r, imm: 0))
            default:
                // Memory: the stack, the map value, the packet, the context, a number.
                switch pick(right ? 3 : 6) {
                case 0: b.emit(mov64(r, reg: 10)); b.emit(alu64(.add, r, imm: Int32(element([-16, -8, -32, -64, -4] as [Int]))))
                case 1: b.emit(mov64(r, reg: 9))
                case 2: b.emit(mov64(r, reg: 7))
                case 3: b.emit(mov64(r, reg: 6))
                case 4: b.emit(mov64(r, imm: 0))
                default: b.emit(mov64(r, imm: 8))
                }
            }
        }
        b.emit(call(id))
    }

    /// The current task (`bpf_get_current_task_btf`), then reads through it: at offsets where
    /// task_struct has numbers, pointers (read whole or in part) and its end, and through the
    /// pointers read (btf_struct_access's rules, and untrusted pointers to helpers).
    private mutating func kernelObjectRead(_ b: inout Builder) {
        b.note(.kernelObjectRead)
        b.emit(call(HelperID.getCurrentTaskBtf.rawValue))
        b.emit(mov64(7, reg: 0))
        for _ in 0..<(1 + pick(3)) {
            let off =
                chance(1, in: 2) && !Self.taskPointerOffsets.isEmpty
                ? element(Self.taskPointerOffsets) : Int16(element([0, 4, 8, 16, 24, 1, 3, 1000, 2000, 3000, 4000, 9000, 12000, -8]))
            let size = element([8, 8, 4, 2, 1])
            let d = element([7, 7, 8, 0] as [UInt8])
            b.emit(ldx(d, element([7, 7, 8] as [UInt8]), off &+ Int16(chance(1, in: 4) ? 8 * pick(64) : 0), size: size))
        }
        if chance(1, in: 2) {
            // Helpers taking kernel objects: a socket, a task (trust, type and NULL rules).
            b.emit(mov64(1, reg: element([7, 8] as [UInt8])))
            b.emit(call(element([HelperID.getSocketCookie, .taskPtRegs, .getTaskStack]).rawValue))
        }
    }

    /// Kernel function calls: a task acquired (`bpf_task_from_pid`, `bpf_task_acquire` of a
    /// pointer of any trust, or of NULL), checked for NULL or not, read through, released once,
    /// twice, through a copy, or leaked — the reference and trust rules of `check_kfunc_call`.
    private mutating func kernelFunction(_ b: inout Builder) {
        guard let ids = Self.taskKernelFunctions else { return }
        b.note(.kernelFunction)
        if chance(1, in: 2) {
            b.emit(mov64(1, imm: Int32(element([0, 1, -1, 2] as [Int]))))
            b.emit(kfuncCall(ids.fromPID))
        } else {
            b.emit(call(HelperID.getCurrentTaskBtf.rawValue))
            switch pick(4) {
            case 0: b.emit(mov64(1, reg: 0))
            case 1: b.emit(ldx(1, 0, element(Self.taskPointerOffsets.isEmpty ? [0] : Self.taskPointerOffsets), size: 8))
            case 2: b.emit(mov64(1, imm: 0))
            default: b.emit(mov64(1, reg: element([7, 9] as [UInt8])))
            }
            b.emit(kfuncCall(ids.acquire))
        }
        b.emit(mov64(7, reg: 0))
        if chance(3, in: 4) { b.jump(Instruction(opcode: 0x15, dst: 0, imm: 0), over: 1) }
        b.gadget { b in
            if chance(1, in: 2) { b.emit(ldx(8, 7, Int16(element([0, 8, 16, 1000] as [Int])), size: element([4, 8]))) }
            switch pick(5) {
            case 0: break  // leaked
            case 1: b.emit(mov64(1, reg: 7)); b.emit(kfuncCall(ids.release)); b.emit(mov64(1, reg: 7)); b.emit(kfuncCall(ids.release))
            case 2: b.emit(mov64(1, reg: 7)); b.emit(kfuncCall(ids.release)); b.emit(ldx(0, 7, 0, size: 4))
            default: b.emit(mov64(1, reg: 7)); b.emit(kfuncCall(ids.release))
            }
        }
    }

    /// The running kernel's BTF ids of the task kfuncs.
    private static let taskKernelFunctions: (fromPID: Int32, acquire: Int32, release: Int32)? = {
        guard let btf = BTF.vmlinux else { return nil }
        func id(_ name: String) -> Int32? { btf.typeID(named: name) { if case .function = $0 { true } else { false } }.map(Int32.init) }
        guard let fromPID = id("bpf_task_from_pid"), let acquire = id("bpf_task_acquire"), let release = id("bpf_task_release") else { return nil }
        return (fromPID, acquire, release)
    }()

    /// Where the running kernel's task_struct (and its members' structs, at the same offsets)
    /// has pointer members, from its BTF: reads there load pointers of every trust.
    private static let taskPointerOffsets: [Int16] = {
        guard let btf = BTF.vmlinux,
            let id = btf.typeID(named: "task_struct", where: { if case .structure = $0 { true } else { false } }),
            case let .structure(_, members)? = btf.type(UInt32(id))?.kind
        else { return [] }
        return members.compactMap { m in
            guard case .pointer? = btf.resolvedKind(m.type), m.bitOffset / 8 < UInt32(Int16.max) else { return nil }
            return Int16(m.bitOffset / 8)
        }
    }()

    /// `bpf_loop(n, callback, ctx, 0)` or `bpf_for_each_map_elem(map, callback, ctx, 0)`:
    /// callbacks that read and write the context (the caller's stack, NULL, other pointers), the
    /// key and the value they are given, return out of range, leak the stack.
    private mutating func loopCallback(_ b: inout Builder) {
        b.note(.callback)
        b.emit(st(10, -8, imm: 0, size: 8))
        b.emit(st(10, -16, imm: 0, size: 8))
        let forEach = chance(1, in: 2)
        if forEach {
            // bpf_for_each_map_elem(map, callback(map, key, value, ctx), ctx, 0).
            b.emit(contentsOf: lddwMap(1, element([FuzzMaps.array, FuzzMaps.hash, FuzzMaps.readOnly, FuzzMaps.ringbuf])))
        } else {
            b.emit(mov64(1, imm: Int32(element([1, 4, 0, 100, -1]))))
        }
        let mapAccess = Int16(element([0, 4, 8, 16, -8] as [Int]))
        let body: [Instruction]
        if forEach && chance(1, in: 2) {
            body = element([
                [ldx(0, 2, mapAccess, size: size()), alu64(.and, 0, imm: 1), exit()],
                [stx(2, 0, 1, size: 4), mov64(0, imm: 0), exit()],
                [ldx(0, 3, mapAccess, size: size()), alu64(.and, 0, imm: 1), exit()],
                [st(3, mapAccess, imm: 7, size: size()), mov64(0, imm: 0), exit()],
                [ldx(0, 4, 0, size: 8), mov64(0, imm: 0), exit()],
            ])
        } else {
            body =
                switch pick(7) {
                case 0: [mov64(0, imm: 0), exit()]
                case 1: [ldx(0, 2, 0, size: 8), alu64(.and, 0, imm: 1), exit()]
                case 2: [stx(2, 0, 1, size: 8), mov64(0, imm: 0), exit()]
                case 3: [mov64(3, reg: 10), stx(2, 0, 3, size: 8), mov64(0, imm: 0), exit()]
                case 4: [mov64(0, reg: 1), exit()]
                case 5: [ldx(0, 10, -8, size: 8), exit()]
                default: [ldx(3, 2, Int16(element([8, 16, -8] as [Int])), size: 8), mov64(0, imm: 1), exit()]
                }
        }
        b.functionAddress(2, body)
        switch pick(4) {
        case 0, 1: b.emit(mov64(3, reg: 10)); b.emit(alu64(.add, 3, imm: -16))
        case 2: b.emit(mov64(3, imm: 0))
        default: b.emit(mov64(3, reg: element([6, 9] as [UInt8])))
        }
        b.emit(mov64(4, imm: 0))
        b.emit(call(forEach ? HelperID.forEachMapElem.rawValue : HelperID.loop.rawValue))
        if chance(1, in: 2) { b.emit(ldx(element([0, 5] as [UInt8]), 10, -16, size: 8)) }
    }

    /// Every helper id whose arguments ``HelperPrototypes`` models.
    private static let checkedHelpers: [Int32] = (1..<Int32(HelperSignature.helperIDLimit)).filter { HelperPrototypes.arguments(of: $0) != nil }

    private mutating func ringbuf(_ b: inout Builder) {
        b.note(.ringbufRecord)
        b.emit(contentsOf: lddwMap(1, FuzzMaps.ringbuf))
        constant(&b, 2, element([8, 16, 4, 1, 0, 4096, -1, Int64(1) << 32 + 8]))
        b.emit(mov64(3, imm: 0))
        b.emit(call(131))
        b.emit(mov64(6, reg: 0))  // r6 no longer the context: later context accesses differ
        let use: [Instruction] =
            switch pick(3) {
            case 0: [st(6, Int16(element([0, 4, 8, 12, 16] as [Int])), imm: 1, size: size())]
            case 1: [mov64(1, imm: 1), Instruction(opcode: 0xdb, dst: 6, src: 1, offset: Int16(element([0, 4, 8] as [Int])), imm: 0)]
            default: [ldx(0, 6, Int16(element([0, 8, 12] as [Int])), size: size()), mov64(0, imm: 0)]
            }
        // if r6 == 0 skip the use and the release
        b.emit(Instruction(opcode: 0x15, dst: 6, offset: Int16(use.count + 3), imm: 0))
        b.emit(contentsOf: use)
        b.emit(mov64(1, reg: 6))
        b.emit(mov64(2, imm: 0))
        b.emit(call(element([132, 133])))
        b.emit(mov64(6, imm: 0))
    }

    private mutating func atomic(_ b: inout Builder) {
        let misaligned = chance(1, in: 3)
        b.note(misaligned ? .atomicMisaligned : .atomic)
        let base = pointerRegister()
        let sz = element([4, 8])
        let off: Int16 = base == 10 ? (misaligned ? -12 : -8) : (misaligned ? Int16(element([1, 2, 4, 6] as [Int])) : Int16(element([0, 8, 16] as [Int])))
        if base == 10 { b.emit(st(10, -16, imm: 0, size: 8)); b.emit(st(10, -8, imm: 0, size: 8)) }
        let op: Int32 = element([0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1])
        let src: UInt8 = chance(4, in: 5) ? 1 : pointerRegister()
        if src == 1 { b.emit(mov64(1, imm: 1)) }
        if op == 0xf1 { b.emit(mov64(0, imm: 0)) }
        b.emit(Instruction(opcode: 0xc3 | (sz == 8 ? 0x18 : 0), dst: base, src: src, offset: off, imm: op))
    }

    private mutating func legacy(_ b: inout Builder) {
        b.note(.legacyPacketLoad)
        b.emit(mov64(6, reg: 1))
        if chance(1, in: 2) {
            b.emit(Instruction(opcode: element([0x20, 0x28, 0x30]), imm: Int32(element([0, 12, 14, 23, -0x100000, -0x200000, 0x7fff_fff0] as [Int]))))
        } else {
            b.emit(mov64(2, imm: Int32(element([0, 14, -1, 0x10000] as [Int]))))
            b.emit(Instruction(opcode: element([0x40, 0x48, 0x50]), src: 2, imm: Int32(pick(20))))
        }
    }

    /// A call into a subprogram (appended after the program) with a pointer argument.
    private mutating func subprogramCall(_ b: inout Builder) {
        b.note(.subprogram)
        b.emit(st(10, -8, imm: 0, size: 8))
        switch pick(4) {
        case 0: b.emit(mov64(1, reg: 10)); b.emit(alu64(.add, 1, imm: -8))
        case 1: b.emit(mov64(1, reg: 6))
        case 2: b.emit(mov64(1, reg: 9))
        default: b.emit(mov64(1, reg: 7))
        }
        b.emit(mov64(2, reg: 8))
        let body = subprogramBody(&b)
        b.call(body)
        switch pick(3) {
        case 0: b.emit(ldx(0, 0, 0, size: 8))  // use what came back
        case 1: b.emit(ldx(3, 10, -8, size: 8)); b.emit(ldx(0, 3, 0, size: 8))  // use what the callee left in our frame
        default: b.emit(mov64(0, imm: 0))
        }
    }

    private mutating func subprogramBody(_ b: inout Builder) -> [Instruction] {
        switch pick(8) {
        case 0:
            b.note(.pointerAcrossFrames)  // a pointer to the callee's stack left in the caller's
            return [st(10, -8, imm: 0, size: 8), mov64(3, reg: 10), alu64(.add, 3, imm: -8), stx(1, 0, 3, size: 8), mov64(0, imm: 0), exit()]
        case 1:
            b.note(.returnPointer)
            return [mov64(0, reg: 1), exit()]
        case 2:
            b.note(.returnPointer)
            return [st(10, -16, imm: 0, size: 8), mov64(0, reg: 10), alu64(.add, 0, imm: -16), exit()]
        case 3:
            return [ldx(0, 1, Int16(element([0, 4, 8, -8] as [Int])), size: size()), exit()]
        case 4:
            b.note(.recursion)
            return [mov64(0, imm: 0), Instruction(opcode: 0x45, dst: 0, offset: 1, imm: 0), Instruction(opcode: 0x85, src: 1, imm: -3), exit()]
        case 5:
            return [mov64(6, reg: 1), Instruction(opcode: 0x30, imm: 0), exit()]
        case 6:
            b.note(.tailCall)
            return [mov64(6, reg: 1)] + lddwMap(2, FuzzMaps.programs) + [mov64(3, imm: 0), call(12), mov64(0, imm: 0), exit()]
        default:
            // A caller's stack pointer stored into the callee's own frame and read back.
            return [stx(10, -8, 1, size: 8), ldx(0, 10, -8, size: 8), ldx(0, 0, 0, size: element([1, 4, 8])), exit()]
        }
    }
}

// MARK: - Building

/// Gadgets laid out in order; forward jumps name a gadget to land on, resolved at the end.
private struct Builder {
    let type: ProgramType
    var code: [Instruction] = []
    var gadgetStarts: [Int] = []
    var jumps: [(at: Int, gadget: Int)] = []
    var calls: [(at: Int, body: Int)] = []
    var bodies: [[Instruction]] = []
    var notes: Set<Gadget> = []

    init(type: ProgramType) { self.type = type }

    mutating func note(_ gadget: Gadget) { notes.insert(gadget) }
    mutating func emit(_ insn: Instruction) { code.append(insn) }
    mutating func emit(contentsOf insns: [Instruction]) { code.append(contentsOf: insns) }

    mutating func gadget(_ body: (inout Builder) -> Void) {
        gadgetStarts.append(code.count)
        body(&self)
    }

    /// A conditional jump over the next `gadgets` gadgets (to the epilogue when fewer follow).
    mutating func jump(_ insn: Instruction, over gadgets: Int) {
        jumps.append((code.count, gadgetStarts.count + gadgets - 1))
        code.append(insn)
    }

    mutating func call(_ body: [Instruction]) {
        calls.append((code.count, bodies.count))
        bodies.append(body)
        code.append(Instruction(opcode: 0x85, src: CallKind.local.rawValue))
    }

    /// `lddw r, function` (BPF_PSEUDO_FUNC) of `body`, appended like a callee.
    mutating func functionAddress(_ r: UInt8, _ body: [Instruction]) {
        calls.append((code.count, bodies.count))
        bodies.append(body)
        code.append(Instruction(opcode: 0x18, dst: r, src: WideImmediateKind.function.rawValue))
        code.append(Instruction(opcode: 0))
    }

    func finish() -> FuzzProgram {
        var code = self.code
        let epilogue = code.count
        code.append(mov64(0, imm: 0))
        code.append(exit())
        for (at, gadget) in jumps {
            let target = gadget + 1 < gadgetStarts.count ? gadgetStarts[gadget + 1] : epilogue
            code[at].offset = Int16(target - at - 1)
        }
        for (at, body) in calls {
            code[at].imm = Int32(code.count - at - 1)
            code.append(contentsOf: bodies[body])  // each call its own copy of its body
        }
        return FuzzProgram(type: type, code: code, gadgets: notes)
    }
}

// MARK: - Instructions

func mov64(_ d: UInt8, imm: Int32) -> Instruction { Instruction(opcode: 0xb7, dst: d, imm: imm) }
func mov64(_ d: UInt8, reg s: UInt8) -> Instruction { Instruction(opcode: 0xbf, dst: d, src: s) }
func alu64(_ op: ALUOp, _ d: UInt8, imm: Int32) -> Instruction { Instruction(opcode: 0x07 | op.rawValue, dst: d, imm: imm) }
func call(_ id: Int32) -> Instruction { Instruction(opcode: 0x85, imm: id) }
func kfuncCall(_ id: Int32) -> Instruction { Instruction(opcode: 0x85, src: CallKind.kfunc.rawValue, imm: id) }
func exit() -> Instruction { Instruction(opcode: 0x95) }

private func sizeBits(_ size: Int) -> UInt8 {
    switch size {
    case 1: 0x10
    case 2: 0x08
    case 4: 0x00
    default: 0x18
    }
}

func ldx(_ d: UInt8, _ s: UInt8, _ off: Int16, size: Int) -> Instruction { Instruction(opcode: 0x61 | sizeBits(size), dst: d, src: s, offset: off) }
func stx(_ d: UInt8, _ off: Int16, _ s: UInt8, size: Int) -> Instruction { Instruction(opcode: 0x63 | sizeBits(size), dst: d, src: s, offset: off) }
func st(_ d: UInt8, _ off: Int16, imm: Int32, size: Int) -> Instruction { Instruction(opcode: 0x62 | sizeBits(size), dst: d, offset: off, imm: imm) }

func lddw(_ d: UInt8, _ v: UInt64) -> [Instruction] {
    [Instruction(opcode: 0x18, dst: d, imm: Int32(truncatingIfNeeded: v)), Instruction(opcode: 0, imm: Int32(truncatingIfNeeded: v >> 32))]
}

func lddwMap(_ d: UInt8, _ index: Int32) -> [Instruction] {
    [Instruction(opcode: 0x18, dst: d, src: WideImmediateKind.mapFD.rawValue, imm: index), Instruction(opcode: 0)]
}

/// The fields of an eBPF opcode byte (RFC 9669 §3, as the Linux kernel decodes them).
///
/// An opcode is `class | source | operation` for arithmetic and jumps and
/// `class | size | mode` for loads and stores.
public enum OpClass: UInt8, Sendable, CaseIterable {
    case ld = 0x00, ldx = 0x01, st = 0x02, stx = 0x03, alu = 0x04, jmp = 0x05, jmp32 = 0x06, alu64 = 0x07

    @inlinable public init(opcode: UInt8) { self = OpClass(rawValue: opcode & 0x07)! }
}

/// Operand source bit: `k` uses the 32-bit immediate, `x` the source register.
public enum OpSource: UInt8, Sendable {
    case k = 0x00, x = 0x08
}

/// Arithmetic operations (upper four bits of an ALU/ALU64 opcode).
public enum ALUOp: UInt8, Sendable, CaseIterable {
    case add = 0x00, sub = 0x10, mul = 0x20, div = 0x30, or = 0x40, and = 0x50, lsh = 0x60, rsh = 0x70
    case neg = 0x80, mod = 0x90, xor = 0xa0, mov = 0xb0, arsh = 0xc0, end = 0xd0
}

/// Jump operations (upper four bits of a JMP/JMP32 opcode).
public enum JumpOp: UInt8, Sendable, CaseIterable {
    case ja = 0x00, jeq = 0x10, jgt = 0x20, jge = 0x30, jset = 0x40, jne = 0x50, jsgt = 0x60, jsge = 0x70
    case call = 0x80, exit = 0x90, jlt = 0xa0, jle = 0xb0, jslt = 0xc0, jsle = 0xd0
}

/// Access width of a load or store.
public enum MemSize: UInt8, Sendable, CaseIterable {
    case w = 0x00, h = 0x08, b = 0x10, dw = 0x18

    /// Width in bytes.
    @inlinable public var byteCount: Int {
        switch self {
        case .b: 1
        case .h: 2
        case .w: 4
        case .dw: 8
        }
    }
}

/// Addressing mode of a load or store.
public enum MemMode: UInt8, Sendable {
    /// `lddw`: 64-bit immediate (class LD only).
    case imm = 0x00
    /// Legacy packet access at an absolute offset (socket filters).
    case abs = 0x20
    /// Legacy packet access at a register-relative offset.
    case ind = 0x40
    /// Regular memory access `*(size *)(reg + off)`.
    case mem = 0x60
    /// Sign-extending load (ISA v4).
    case memsx = 0x80
    /// Atomic read-modify-write (class STX only).
    case atomic = 0xc0
}

/// The `imm` field of an atomic instruction.
public enum AtomicOp: Int32, Sendable, CaseIterable {
    case add = 0x00, or = 0x40, and = 0x50, xor = 0xa0
    case fetchAdd = 0x01, fetchOr = 0x41, fetchAnd = 0x51, fetchXor = 0xa1
    case xchg = 0xe1, cmpxchg = 0xf1

    /// Whether the old value is written back to the source register (or r0 for cmpxchg).
    public var fetches: Bool { rawValue & 0x01 != 0 }
}

/// The source forms of the wide `lddw` instruction (`src` field), as the kernel defines them.
public enum WideImmediateKind: UInt8, Sendable, CaseIterable {
    /// A plain 64-bit immediate.
    case immediate = 0
    /// `BPF_PSEUDO_MAP_FD`: imm is a map file descriptor; the register gets the map.
    case mapFD = 1
    /// `BPF_PSEUDO_MAP_VALUE`: imm is a map fd, next imm an offset into its value.
    case mapValue = 2
    /// `BPF_PSEUDO_BTF_ID`: imm is a BTF id of a kernel variable.
    case btfID = 3
    /// `BPF_PSEUDO_FUNC`: imm is a relative instruction offset of a subprogram.
    case function = 4
    /// `BPF_PSEUDO_MAP_IDX`: imm indexes the program's map array.
    case mapIndex = 5
    /// `BPF_PSEUDO_MAP_IDX_VALUE`: map index plus value offset.
    case mapIndexValue = 6
}

/// The `src` field of a `call` instruction.
public enum CallKind: UInt8, Sendable {
    /// A helper function by its kernel id.
    case helper = 0
    /// A bpf-to-bpf call: imm is the relative offset of the callee.
    case local = 1
    /// A kernel function (kfunc) by BTF id.
    case kfunc = 2
}

/// Limits shared by every engine, matching the kernel's.
public enum BPFLimits {
    /// Bytes of stack per frame (`MAX_BPF_STACK`).
    public static let stackSize = 512
    /// Maximum nesting of bpf-to-bpf calls (`MAX_CALL_FRAMES`).
    public static let maxCallFrames = 8
    /// Maximum program length for a privileged loader (`BPF_COMPLEXITY_LIMIT_INSNS`).
    public static let maxInstructions = 1_000_000
    /// Maximum chain of tail calls (`MAX_TAIL_CALL_CNT`).
    public static let maxTailCalls = 33
}

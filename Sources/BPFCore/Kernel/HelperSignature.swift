/// A helper's types as the kernel declares them (`struct bpf_func_proto`): what each argument
/// register must hold, what r0 holds after the call, and whether only GPL-compatible programs
/// may call it. The table of every helper's (``signature(of:)``) is generated from a kernel
/// source tree by `scripts/generate-helper-signatures.py`.
public struct HelperSignature: Sendable, Equatable {
    /// `enum bpf_arg_type`'s base types.
    public enum ArgumentBase: UInt8, Sendable {
        case dontcare, constantMapPtr, pointerToMapKey, pointerToMapValue, pointerToMem, pointerToArena
        case constantSize, constantSizeOrZero, pointerToCtx, anything, scalar, pointerToSpinLock
        case pointerToSockCommon, pointerToSocket, pointerToBtfId, pointerToRingbufMem, constantAllocSizeOrZero
        case pointerToBtfIdSockCommon, pointerToPercpuBtfId, pointerToFunc, pointerToStack, pointerToConstantStr
        case pointerToTimer, kptrXchgDest, pointerToDynptr
    }

    /// `enum bpf_return_type`'s base types.
    public enum ResultBase: UInt8, Sendable {
        case integer, void, pointerToMapValue, pointerToSocket, pointerToTcpSock, pointerToSockCommon
        case pointerToMem, pointerToMemOrBtfId, pointerToBtfId
    }

    /// `enum bpf_type_flag`: modifiers of a base type.
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// `PTR_MAYBE_NULL`.
        public static let maybeNull = Flags(rawValue: 1 << 0)
        /// `MEM_RDONLY`: the helper only reads the memory.
        public static let readOnly = Flags(rawValue: 1 << 1)
        /// `MEM_RINGBUF`.
        public static let ringBuffer = Flags(rawValue: 1 << 2)
        /// `MEM_USER`.
        public static let user = Flags(rawValue: 1 << 3)
        /// `MEM_PERCPU`.
        public static let perCPU = Flags(rawValue: 1 << 4)
        /// `OBJ_RELEASE`: the helper releases the reference passed.
        public static let release = Flags(rawValue: 1 << 5)
        /// `PTR_UNTRUSTED`.
        public static let untrusted = Flags(rawValue: 1 << 6)
        /// `MEM_UNINIT`: the memory need not be initialized; the helper fills it.
        public static let uninitialized = Flags(rawValue: 1 << 7)
        /// `DYNPTR_TYPE_LOCAL`.
        public static let dynptrLocal = Flags(rawValue: 1 << 8)
        /// `DYNPTR_TYPE_RINGBUF`.
        public static let dynptrRingBuffer = Flags(rawValue: 1 << 9)
        /// `MEM_FIXED_SIZE`: the memory's size is the signature's, not a size argument's.
        public static let fixedSize = Flags(rawValue: 1 << 10)
        /// `MEM_ALLOC`.
        public static let allocated = Flags(rawValue: 1 << 11)
        /// `PTR_TRUSTED`.
        public static let trusted = Flags(rawValue: 1 << 12)
        /// `MEM_RCU`.
        public static let rcu = Flags(rawValue: 1 << 13)
        /// `DYNPTR_TYPE_SKB`.
        public static let dynptrSKB = Flags(rawValue: 1 << 15)
        /// `DYNPTR_TYPE_XDP`.
        public static let dynptrXDP = Flags(rawValue: 1 << 16)
        /// `MEM_ALIGNED`: the memory must be aligned to its size.
        public static let aligned = Flags(rawValue: 1 << 17)
        /// `MEM_WRITE`: the helper writes the memory.
        public static let write = Flags(rawValue: 1 << 18)
    }

    /// One argument's type.
    public struct Argument: Sendable, Equatable {
        public var base: ArgumentBase
        public var flags: Flags
        /// With ``Flags/fixedSize``: the memory's size in bytes (`arg_size`).
        public var size: Int
        /// For `ARG_PTR_TO_BTF_ID`: the kernel struct the object must be (`argN_btf_id`), where
        /// the table's generator could name it.
        public var btfStruct: String?
        init(_ base: ArgumentBase, _ flags: Flags, size: Int = 0, btfStruct: String? = nil) {
            (self.base, self.flags, self.size, self.btfStruct) = (base, flags, size, btfStruct)
        }
    }

    /// The result's type.
    public struct Result: Sendable, Equatable {
        public var base: ResultBase
        public var flags: Flags
        init(_ base: ResultBase, _ flags: Flags) { (self.base, self.flags) = (base, flags) }
    }

    public var result: Result
    /// r1 first; as many as the helper takes.
    public var arguments: [Argument]
    /// `gpl_only`: callable only from programs whose license is GPL-compatible.
    public var gplOnly: Bool
    /// `pkt_access`: the helper may be passed pointers into the packet.
    public var packetAccess: Bool
    /// `might_sleep`: only sleepable programs may call it.
    public var mightSleep: Bool

    /// Whether a program of `type` may call helper `id` in the kernel the availability table
    /// was probed on (as root: some helpers need `CAP_PERFMON` or `CAP_SYS_ADMIN`); nil for a
    /// type not probed there. Types whose helpers depend on the attach point get the helpers
    /// every probed attach point allows. LSM programs, which that kernel does not load, are
    /// taken to have tracing programs' helpers (`bpf_lsm_func_proto` falls back to
    /// `tracing_prog_func_proto`).
    /// With `attachType`, the helpers of that attach point where it was probed (tracing's
    /// iterators have `bpf_seq_write`, its tp_btf programs do not).
    public static func isAvailable(_ id: HelperID, to type: ProgramType, attachType: AttachType? = nil) -> Bool? {
        let typeKey = type == .lsm ? ProgramType.tracing.rawValue : type.rawValue
        let probed = attachType.flatMap { attachAvailability[UInt64(typeKey) << 32 | UInt64($0.rawValue)] }
        guard let words = probed ?? availability[typeKey] else { return nil }
        let bit = Int(id.rawValue)
        guard bit >= 0, bit / 64 < words.count else { return false }
        return words[bit / 64] >> UInt64(bit % 64) & 1 == 1
    }

    /// One past the highest helper id the table knows.
    public static var helperIDLimit: Int { kernel.count }

    /// The signature of helper `id`, or nil for an id the kernel source the table was made
    /// from defines no prototype for. With `type`, the signature programs of that type get where
    /// it differs (tracing and LSM programs' `bpf_get_socket_cookie` takes a socket, not the
    /// context).
    public static func signature(of id: HelperID, in type: ProgramType? = nil) -> HelperSignature? {
        if type == .tracing || type == .lsm, let variant = tracingVariants[id.rawValue] { return variant }
        return kernel.indices.contains(Int(id.rawValue)) ? kernel[Int(id.rawValue)] : nil
    }
}

/// What the kernel knows of a kernel function (kfunc) beyond its BTF prototype: its
/// `BTF_ID_FLAGS` and the kfunc hooks (groups of program types) its sets are registered for. The
/// table (``rule(named:)``) is generated from a kernel source tree by
/// `scripts/generate-kernel-function-rules.py`.
public struct KernelFunctionRule: Sendable, Equatable {
    /// `KF_*` flags.
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        /// `KF_ACQUIRE`: returns a reference the program must release.
        public static let acquire = Flags(rawValue: 1 << 0)
        /// `KF_RELEASE`: releases the reference passed.
        public static let release = Flags(rawValue: 1 << 1)
        /// `KF_RET_NULL`: the returned pointer may be NULL.
        public static let returnsNull = Flags(rawValue: 1 << 2)
        /// `KF_TRUSTED_ARGS`: pointer arguments must be trusted (or referenced), never NULL.
        public static let trustedArguments = Flags(rawValue: 1 << 3)
        /// `KF_SLEEPABLE`.
        public static let sleepable = Flags(rawValue: 1 << 4)
        /// `KF_DESTRUCTIVE`: needs CAP_SYS_BOOT.
        public static let destructive = Flags(rawValue: 1 << 5)
        /// `KF_RCU`: pointer arguments may also be RCU-protected.
        public static let rcu = Flags(rawValue: 1 << 6)
        /// `KF_ITER_NEW`, `KF_ITER_NEXT`, `KF_ITER_DESTROY`: open-coded iterators.
        public static let iteratorNew = Flags(rawValue: 1 << 7)
        public static let iteratorNext = Flags(rawValue: 1 << 8)
        public static let iteratorDestroy = Flags(rawValue: 1 << 9)
        /// `KF_RCU_PROTECTED`: only inside an RCU read section.
        public static let rcuProtected = Flags(rawValue: 1 << 10)
        /// `KF_FASTCALL`.
        public static let fastCall = Flags(rawValue: 1 << 11)
    }

    /// The kernel's kfunc hooks (`enum btf_kfunc_hook`): each program type belongs to one, and a
    /// kfunc is callable from the hooks its sets were registered for, and from all when
    /// registered for `common`.
    public struct KernelFunctionHooks: OptionSet, Sendable, Hashable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let common = Self(rawValue: 1 << 0)
        public static let xdp = Self(rawValue: 1 << 1)
        public static let tc = Self(rawValue: 1 << 2)
        public static let structOps = Self(rawValue: 1 << 3)
        public static let tracing = Self(rawValue: 1 << 4)
        public static let syscall = Self(rawValue: 1 << 5)
        public static let fmodRet = Self(rawValue: 1 << 6)
        public static let cgroup = Self(rawValue: 1 << 7)
        public static let schedAct = Self(rawValue: 1 << 8)
        public static let skSKB = Self(rawValue: 1 << 9)
        public static let socketFilter = Self(rawValue: 1 << 10)
        public static let lwt = Self(rawValue: 1 << 11)
        public static let netfilter = Self(rawValue: 1 << 12)
        public static let kprobe = Self(rawValue: 1 << 13)
    }

    public var flags: Flags
    /// The hooks its sets are registered for, without a load-time filter.
    public var hooks: KernelFunctionHooks
    /// Whether one of its sets has a `.filter` that narrows it by attach type or target at load
    /// time, which SwiftBPF does not model: it is then not claimed available anywhere.
    public var filtered: Bool
    /// Whether the kernel's verifier has rules of its own for it (`special_kfunc_list`: object
    /// allocation, lists and trees, dynptr slices, casts, RCU and preemption sections) beyond
    /// what its prototype and flags say.
    public var special: Bool

    init(flags: Flags, hooks: KernelFunctionHooks, filtered: Bool = false, special: Bool = false) {
        self.flags = flags
        self.hooks = hooks
        self.filtered = filtered
        self.special = special
    }

    /// The kernel's rule for the kfunc named `name`, or nil when the generating tree had none.
    public static func rule(named name: String) -> KernelFunctionRule? { table[name] }

    /// Whether a program of `type` may call the kfunc: true or false, or nil when that depends
    /// on a load-time filter SwiftBPF does not model or the type belongs to no hook.
    public func isAvailable(to type: ProgramType) -> Bool? {
        if hooks.contains(.common) { return true }
        if filtered { return nil }
        guard let hook = Self.hookOfProgramType[type] else { return nil }
        return hooks.contains(hook)
    }
}

public typealias KernelFunctionHooks = KernelFunctionRule.KernelFunctionHooks

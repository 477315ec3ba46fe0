/// The kernel's object types (vmlinux BTF), for reads through `PTR_TO_BTF_ID` pointers: the
/// verifier asks what a load at an offset gives, as the kernel's `btf_struct_access` answers.
/// BPFRuntime provides one over a parsed BTF.
public protocol KernelObjectTypes: Sendable {
    /// What reading `size` bytes at `offset` of an object of type `type` gives.
    func read(type: UInt32, offset: Int, size: Int) -> KernelObjectRead
    /// The type's name, for messages (`task_struct`).
    func name(ofType type: UInt32) -> String
    /// The id of the struct named `name`, or nil.
    func structID(named name: String) -> UInt32?
    /// Whether type `type` is the struct named `name` or begins with one, through first members
    /// at offset 0 (`btf_struct_ids_match`, not strict).
    func begins(_ type: UInt32, with name: String) -> Bool
    /// The kernel function (kfunc) of BTF id `id` with its prototype, or nil when `id` is no
    /// function.
    func kernelFunction(_ id: UInt32) -> KernelFunctionPrototype?
}

extension KernelObjectTypes {
    /// No kernel functions: kfunc calls are refused.
    public func kernelFunction(_ id: UInt32) -> KernelFunctionPrototype? { nil }
}

/// A kernel function's prototype as its BTF declares it, in the terms `check_kfunc_call` judges
/// arguments and results by.
public struct KernelFunctionPrototype: Sendable, Equatable {
    /// What a parameter or the result is.
    public enum Value: Sendable, Equatable {
        case void
        /// An integer or enum of this many bytes.
        case scalar(size: Int)
        /// A pointer to the struct with this BTF id and name.
        case structPointer(type: UInt32, name: String)
        /// `void *`.
        case voidPointer
        /// Anything else (a pointer to an integer or a function, a struct by value), described.
        case other(String)
    }

    /// A parameter, with its name (the kernel reads suffixes such as `__k` and `__sz` there).
    public struct Parameter: Sendable, Equatable {
        public var name: String
        public var value: Value
        public init(name: String, value: Value) {
            self.name = name
            self.value = value
        }
    }

    public var name: String
    public var parameters: [Parameter]
    public var result: Value

    public init(name: String, parameters: [Parameter], result: Value) {
        self.name = name
        self.parameters = parameters
        self.result = result
    }
}

/// The answer of ``KernelObjectTypes/read(type:offset:size:)``.
public enum KernelObjectRead: Sendable, Equatable {
    /// A number.
    case scalar
    /// A pointer to another kernel object of this type, read from field `member`, with its BTF
    /// type tag (`rcu`, `user`, `percpu`) if any.
    case pointer(to: UInt32, member: String, tag: String?)
    /// A pointer to memory of no struct type (`int *`, `void *`): read-only, untrusted, readable
    /// at any offset (`PTR_TO_MEM | MEM_RDONLY | PTR_UNTRUSTED`, since Linux 6.17).
    case untypedPointer
    /// Refused, in the kernel's words.
    case refused(String)
}

extension Register {
    /// The ``btfType`` of `rdonly_untrusted_mem`: kernel memory of no known type.
    static let untypedKernelMemory = UInt32.max

    /// A pointer to a kernel object of BTF type `type`.
    static func kernelObject(type: UInt32) -> Register {
        var r = Register.pointer(.btfPointer)
        r.btfType = type
        return r
    }
}

extension Analysis {
    /// `check_ptr_to_btf_access`: a read at a constant, non-negative offset of a kernel object
    /// whose type is known, from a GPL-compatible program; what it loads is the BTF walk's
    /// answer. Nil when it loads a number.
    mutating func kernelObjectRead(_ s: VerifierState, _ pc: Int, base: Register, regno: Int, offset: Int64, size: Int, mode: AccessMode)
        throws(VerificationError) -> Register?
    {
        if base.btfType == Register.untypedKernelMemory {
            // Offsets are not tracked: any load reads a number (a fault reads zero).
            guard !mode.writes else { throw error(pc, s, "R\(regno) cannot write into rdonly_untrusted_mem") }
            return nil
        }
        guard base.btfType != 0, let types = config.kernelTypes else {
            throw error(pc, s, "R\(regno) invalid mem access '\(base.typeName)': the object's kernel type is not known (no kernel BTF)")
        }
        let name = types.name(ofType: base.btfType)
        if base.trust == .user { throw error(pc, s, "R\(regno) is ptr_\(name) access user memory: off=\(offset)") }
        if base.trust == .percpu { throw error(pc, s, "R\(regno) is ptr_\(name) access percpu memory: off=\(offset)") }
        guard !mode.writes else { throw error(pc, s, "only read is supported") }
        guard config.gplCompatible else { throw error(pc, s, "Cannot access kernel 'struct \(name)' from non-GPL compatible program") }
        guard offset >= 0 else { throw error(pc, s, "R\(regno) is ptr_\(name) invalid negative access: off=\(offset)") }
        guard base.hasFixedOffset else {
            throw error(pc, s, "R\(regno) is ptr_\(name) invalid variable offset: off=\(offset), var_off=\(base.value.tnum)")
        }
        switch types.read(type: base.btfType, offset: Int(offset), size: size) {
        case .scalar: return nil
        case let .pointer(to, member, tag):
            if case .read(signed: true) = mode { throw error(pc, s, "R\(regno) is ptr_\(name): sign-extending load of a pointer member") }
            var loaded = Register.kernelObject(type: to)
            let (trust, nullable) = KernelPointerTrust.field(member, of: name, tag: tag, base: base.trust, inRCU: !config.sleepable)
            loaded.trust = trust
            if nullable {
                loaded.maybeNull = true
                loaded.id = freshID()
            }
            return loaded
        case .untypedPointer:
            var loaded = Register.kernelObject(type: Register.untypedKernelMemory)
            loaded.trust = .untrusted
            return loaded
        case let .refused(message): throw error(pc, s, message)
        }
    }
}

/// What a helper argument must be, as the kernel's `bpf_func_proto` says: the verifier proves
/// these statically; the interpreter's checked mode tests them before each call.
public enum HelperArgument: Sendable, Equatable {
    /// Any value.
    case anything
    /// A number, not a pointer (`ARG_SCALAR`).
    case number
    /// A map the program uses.
    case map
    /// Memory holding a key of the map in r1.
    case mapKey
    /// Memory holding a value of the map in r1.
    case mapValue
    /// Memory the helper fills with a value of the map in r1.
    case writableMapValue
    /// Memory the helper reads, as many bytes as argument `size` (1-based register) says.
    case readable(size: Int)
    /// Memory the helper writes, as many bytes as argument `size` says.
    case writable(size: Int)
    /// Memory the helper reads, or NULL (then with a size of zero).
    case readableOrNull(size: Int)
    /// The size of the memory argument before it: a bounded number, never negative, and more
    /// than zero unless `zeroAllowed` (`ARG_CONST_SIZE`, `ARG_CONST_SIZE_OR_ZERO`).
    case size(zeroAllowed: Bool)
    /// A size that must be a known constant: what the helper allocates
    /// (`ARG_CONST_ALLOC_SIZE_OR_ZERO`).
    case allocationSize
    /// A ring buffer record the program reserved, handed back (`ARG_PTR_TO_RINGBUF_MEM`).
    case record
    /// The program's context.
    case context
    /// The `struct bpf_spin_lock` field of a map value: 4 bytes, written by the helper.
    case spinLock
    /// Memory of a size the signature fixes (`MEM_FIXED_SIZE`): written (and initialized) by the
    /// helper when `write`, else read; aligned to its size when `aligned` (`MEM_ALIGNED`).
    case fixed(bytes: Int, write: Bool, aligned: Bool)
    /// A trusted pointer to a kernel object: the struct named, or a struct that begins with
    /// one (`ARG_PTR_TO_BTF_ID` with its `btf_id`; `ARG_PTR_TO_BTF_ID_SOCK_COMMON` takes
    /// `sock_common`); NULL too where `nullable`.
    case kernelObject(structName: String, nullable: Bool)
    /// A subprogram the helper calls back (`ARG_PTR_TO_FUNC`).
    case callback
    /// A pointer into the stack, or NULL where `nullable` (`ARG_PTR_TO_STACK`): handed to the
    /// callback.
    case stackPointer(nullable: Bool)
}

/// Helper arguments as SwiftBPF checks them, derived from the kernel's signatures
/// (``HelperSignature``).
public enum HelperPrototypes {
    /// The arguments of helper `id` (r1 first), or nil for a helper with no signature, or one
    /// taking an argument whose kind SwiftBPF does not check (``unsupportedArgument(of:)``
    /// names it).
    public static func arguments(of id: Int32, in type: ProgramType? = nil) -> [HelperArgument]? {
        guard let signature = HelperSignature.signature(of: HelperID(rawValue: id), in: type) else { return nil }
        var arguments: [HelperArgument] = []
        for (i, argument) in signature.arguments.enumerated() {
            guard let kind = kind(of: argument, at: i, in: signature.arguments) else { return nil }
            arguments.append(kind)
        }
        return arguments
    }

    /// The first argument of helper `id` that SwiftBPF does not check, as the kernel names its
    /// type (`ARG_PTR_TO_BTF_ID`), with its register; nil when every one is checked.
    public static func unsupportedArgument(of id: Int32, in type: ProgramType? = nil) -> (register: Int, type: String)? {
        guard let signature = HelperSignature.signature(of: HelperID(rawValue: id), in: type) else { return nil }
        for (i, argument) in signature.arguments.enumerated() where kind(of: argument, at: i, in: signature.arguments) == nil {
            return (i + 1, argument.kernelName)
        }
        return nil
    }

    private static func kind(of argument: HelperSignature.Argument, at i: Int, in all: [HelperSignature.Argument]) -> HelperArgument? {
        let flags = argument.flags
        let nullable = flags.contains(.maybeNull)
        switch argument.base {
        case .anything: return .anything
        case .scalar: return .number
        case .constantMapPtr: return .map
        case .pointerToMapKey: return nullable ? nil : .mapKey
        case .pointerToMapValue:
            if nullable { return nil }
            return flags.contains(.uninitialized) ? .writableMapValue : .mapValue
        case .pointerToCtx: return nullable ? nil : .context
        case .pointerToSpinLock: return .spinLock
        case .pointerToRingbufMem: return flags.contains(.release) ? .record : nil
        case .constantAllocSizeOrZero: return .allocationSize
        case .constantSize: return .size(zeroAllowed: false)
        case .constantSizeOrZero: return .size(zeroAllowed: true)
        case .pointerToFunc: return .callback
        case .pointerToStack: return .stackPointer(nullable: nullable)
        case .pointerToBtfIdSockCommon: return flags.contains(.release) ? nil : .kernelObject(structName: "sock_common", nullable: nullable)
        case .pointerToBtfId:
            // Objects of a struct the table names, trusted or not said; released references,
            // RCU and other flavours are not modelled.
            guard let name = argument.btfStruct, flags.subtracting([.maybeNull, .trusted]).isEmpty else { return nil }
            return .kernelObject(structName: name, nullable: nullable)
        case .pointerToMem:
            let initializes = flags.contains(.uninitialized)
            // Memory the helper writes but that must hold data already is not modelled.
            if flags.contains(.write), !initializes { return nil }
            if flags.contains(.fixedSize) {
                return nullable ? nil : .fixed(bytes: argument.size, write: initializes, aligned: flags.contains(.aligned))
            }
            guard i + 1 < all.count, [.constantSize, .constantSizeOrZero].contains(all[i + 1].base) else { return nil }
            if initializes { return nullable ? nil : .writable(size: i + 2) }
            return nullable ? .readableOrNull(size: i + 2) : .readable(size: i + 2)
        default: return nil
        }
    }
}

extension HelperSignature.Argument {
    /// The kernel's name of the type (`ARG_PTR_TO_BTF_ID`), with `PTR_MAYBE_NULL` where set.
    public var kernelName: String {
        var words: [String] = []
        var camel = "\(base)"
        camel = camel.replacingPrefix("pointerTo", with: "ptrTo").replacingPrefix("constant", with: "const")
        for c in camel {
            if c.isUppercase { words.append("") }
            if words.isEmpty { words.append("") }
            words[words.count - 1].append(c.uppercased())
        }
        return "ARG_" + words.joined(separator: "_") + (flags.contains(.maybeNull) ? " | PTR_MAYBE_NULL" : "")
    }
}

extension String {
    fileprivate func replacingPrefix(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }
}

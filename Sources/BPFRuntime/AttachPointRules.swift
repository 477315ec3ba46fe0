import BPFCore
import BPFObject
import BPFVerifier
import BTF

/// What a program's attach point decides beyond its type: a tracing program's context (tp_btf,
/// fentry, fexit, fmod_ret: its attach target's prototype in the kernel's BTF, as the kernel's
/// `btf_ctx_access` reads it) and what programs may return (`check_return_code`).
enum AttachPointRules {
    /// Sets `configuration`'s return range and context for a program of `kind`; leaves the
    /// context unreadable where the target BTF has no such attach point.
    static func configure(_ configuration: inout Verifier.Configuration, kind: SectionNames.Match, target: BTF?) {
        configuration.sleepable = kind.flags.contains(.sleepable)
        configuration.attachType = kind.expectedAttachType
        configuration.kernelTypes = target.map { BTFKernelObjectTypes(btf: $0) }
        if kind.type == .cgroupSKB, kind.expectedAttachType == .cgroupInetEgress { configuration.returnRange = 0...3 }
        if kind.type == .lsm, kind.expectedAttachType == .lsmMac, let target, let name = kind.attachTarget {
            configureLSM(&configuration, hook: name, target: target)
            return
        }
        guard kind.type == .tracing, let attach = kind.expectedAttachType else { return }
        if attach == .traceFentry || attach == .traceFexit { configuration.returnRange = 0...0 }
        guard let target, let name = kind.attachTarget else { return }
        let prototype: (returns: UInt32, parameters: [BTFType.Parameter])?
        switch attach {
        case .traceRawTp:
            // btf_trace_NAME: a typedef of a pointer to the prototype; its first parameter, the
            // tracepoint's `void *__data`, is not the program's.
            guard let typedef = target.typeID(named: "btf_trace_" + name, where: { if case .typedef = $0 { true } else { false } }),
                case let .pointer(to)? = target.resolvedKind(UInt32(typedef)),
                case let .functionPrototype(returns, parameters)? = target.resolvedKind(to), !parameters.isEmpty
            else { return }
            prototype = (returns, Array(parameters.dropFirst()))
        case .traceIter:
            // bpf_iter_NAME(struct bpf_iter_meta *meta, <object> *...): the iterator's context,
            // whose objects are NULL on the last call (ctx_arg_info's PTR_TO_BTF_ID_OR_NULL).
            configuration.returnRange = 0...1
            guard let (_, parameters) = functionPrototype(named: "bpf_iter_" + name, in: target) else { return }
            let arguments = parameters.enumerated().map { i, parameter -> ContextLayout.TracingArgument in
                let argument = classify(parameter.type, in: target)
                if i > 0, case let .objectPointer(type, _) = argument { return .objectPointer(type: type, nullable: true) }
                return argument
            }
            configuration.context = .tracing(arguments: Array(arguments.prefix(12)))
            return
        case .traceFentry, .traceFexit, .modifyReturn:
            guard let found = functionPrototype(named: name, in: target) else { return }
            prototype = found
        default:
            return
        }
        guard let prototype else { return }
        var arguments = prototype.parameters.map { classify($0.type, in: target) }
        switch attach {
        case .traceFexit: arguments.append(classify(prototype.returns, in: target))
        case .modifyReturn:
            // fmod_ret attaches only to functions returning an integer.
            if case .int(let size, _, _, _)? = target.resolvedKind(prototype.returns), size <= 8 {
                arguments.append(.number)
            } else {
                arguments.append(.inaccessible)
            }
        default: break
        }
        configuration.context = .tracing(arguments: Array(arguments.prefix(12)))
    }

    /// An LSM program's context: its hook's (`bpf_lsm_NAME`) arguments, then the return value of
    /// the programs before it, as for fexit; it returns 0 or a negative errno, or for the hooks
    /// that answer yes or no (`bool_lsm_hooks`) 0 or 1 (`bpf_lsm_get_retval_range`).
    private static func configureLSM(_ configuration: inout Verifier.Configuration, hook: String, target: BTF) {
        guard let (returns, parameters) = functionPrototype(named: "bpf_lsm_" + hook, in: target) else { return }
        var arguments = parameters.map { classify($0.type, in: target) }
        if returns != 0 {
            let yesOrNo: Set<String> = ["xfrm_state_pol_flow_match", "audit_rule_known", "inode_xattr_skipcap"]
            let range: ClosedRange<Int32> = yesOrNo.contains(hook) ? 0...1 : -4095...0
            arguments.append(.returnValue(range))
            configuration.returnRange = Int64(range.lowerBound)...Int64(range.upperBound)
            configuration.returnIs32Bit = true
        }
        configuration.context = .tracing(arguments: Array(arguments.prefix(12)))
    }

    /// The return type and parameters of the function `name` in `btf`.
    private static func functionPrototype(named name: String, in btf: BTF) -> (returns: UInt32, parameters: [BTFType.Parameter])? {
        guard let function = btf.typeID(named: name, where: { if case .function = $0 { true } else { false } }),
            case let .function(proto, _)? = btf.type(UInt32(function))?.kind,
            case let .functionPrototype(returns, parameters)? = btf.resolvedKind(proto)
        else { return nil }
        return (returns, parameters)
    }

    /// How the kernel presents a value of BTF type `id` in the context (`btf_ctx_access`).
    private static func classify(_ id: UInt32, in btf: BTF) -> ContextLayout.TracingArgument {
        guard id != 0 else { return .inaccessible }  // void
        switch btf.resolvedKind(id) {
        case .int(let size, _, _, _)? where size <= 8: return .number
        case .enumeration?, .enumeration64?, .structure?, .union?: return .number
        case .pointer(let pointee)?:
            if pointee == 0 { return .opaquePointer }
            if case .int? = btf.resolvedKind(pointee) { return .opaquePointer }
            return .objectPointer(type: btf.resolved(pointee))
        default: return .inaccessible
        }
    }
}

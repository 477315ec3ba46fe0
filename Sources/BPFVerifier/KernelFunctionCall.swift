import BPFCore

extension Analysis {
    /// A kernel function call (`call` with `BPF_PSEUDO_KFUNC_CALL`, imm the function's id in the
    /// kernel types), as `check_kfunc_call` checks it: allowed for the program type, arguments
    /// against the BTF prototype and the function's `KF_*` flags, the result in r0 — a number,
    /// or a kernel object pointer that may be NULL and may be a reference the program must
    /// release. Kfuncs with rules of the kernel verifier's own (iterators, dynptrs, allocation,
    /// RCU sections) and arguments other than numbers and struct pointers are refused, named.
    mutating func kernelFunctionCall(_ s: inout VerifierState, _ pc: Int, _ insn: Instruction) throws(VerificationError) -> Next {
        guard insn.offset == 0 else { throw error(pc, s, "kernel functions of modules (BTF fd index \(insn.offset)) are not supported") }
        guard let types = config.kernelTypes else { throw error(pc, s, "calling kernel function #\(insn.imm) needs the kernel's BTF") }
        guard insn.imm > 0, let function = types.kernelFunction(UInt32(insn.imm)) else {
            throw error(pc, s, "kernel btf_id \(insn.imm) is not a function")
        }
        let name = function.name
        guard config.gplCompatible else { throw error(pc, s, "cannot call kernel function from non-GPL compatible program") }
        guard let rule = KernelFunctionRule.rule(named: name) else {
            throw error(pc, s, "kernel function \(name): its flags are not known to SwiftBPF (not in the kernel tree its tables come from)")
        }
        switch rule.isAvailable(to: config.programType) {
        case false?: throw error(pc, s, "calling kernel function \(name) is not allowed")
        case nil: throw error(pc, s, "kernel function \(name): whether a \(config.programType) program may call it is not known to SwiftBPF")
        case true?: break
        }
        let unsupported: KernelFunctionRule.Flags = [.iteratorNew, .iteratorNext, .iteratorDestroy, .destructive]
        guard !rule.special, rule.flags.isDisjoint(with: unsupported) else {
            throw error(pc, s, "kernel function \(name) is not supported by SwiftBPF's verifier (the kernel's verifier has rules of its own for it)")
        }
        if rule.flags.contains(.sleepable), !config.sleepable { throw error(pc, s, "program must be sleepable to call sleepable kfunc \(name)") }
        if rule.flags.contains(.rcuProtected), config.sleepable { throw error(pc, s, "kernel func \(name) requires RCU critical section protection") }
        if s.lock != nil { throw error(pc, s, "function calls are not allowed while holding a lock") }
        guard function.parameters.count <= 5 else { throw error(pc, s, "Function \(name) has \(function.parameters.count) > 5 args") }

        // is_kfunc_trusted_args: releasing implies trusted arguments.
        let trustedArguments = rule.flags.contains(.trustedArguments) || rule.flags.contains(.release)
        var released: Register?
        for (i, parameter) in function.parameters.enumerated() {
            let r = i + 1
            if parameter.name.hasSuffix("__ign") { continue }
            let arg = try readable(s, pc, r)
            switch parameter.value {
            case .scalar:
                guard arg.isScalar else { throw error(pc, s, "R\(r) is not a scalar") }
                if parameter.name.hasSuffix("__k") {
                    guard arg.value.constantValue != nil else { throw error(pc, s, "R\(r) must be a known constant") }
                    precisionRequest |= 1 << UInt16(r)
                } else if parameter.name.contains("__") || parameter.name.hasSuffix("buf_size") {
                    throw error(pc, s, "kernel function \(name): argument \(parameter.name) is not supported by SwiftBPF's verifier")
                }
            case let .structPointer(type, structName):
                guard !parameter.name.contains("__") else {
                    throw error(pc, s, "kernel function \(name): argument \(parameter.name) is not supported by SwiftBPF's verifier")
                }
                if Self.contextStructs(of: config.programType).contains(structName) {
                    throw error(pc, s, "kernel function \(name): context arguments are not supported by SwiftBPF's verifier")
                }
                if trustedArguments || rule.flags.contains(.rcu),
                    arg.maybeNull || (arg.isScalar && arg.value.constantValue == 0)
                {
                    throw error(pc, s, "Possibly NULL pointer passed to trusted arg\(i)")
                }
                // A kernel object pointer carrying none of the unsafe modifiers (untrusted, user,
                // percpu, maybe-NULL); anything else the kernel takes as memory, which a struct of
                // pointers is not.
                guard arg.kind == .btfPointer, arg.btfType != Register.untypedKernelMemory, !arg.maybeNull,
                    [.trusted, .rcu, .plain].contains(arg.trust)
                else {
                    throw error(pc, s, "arg#\(i) is \(arg.typeName) expected ptr_ or socket")
                }
                let referenced = arg.referenceID != 0
                if trustedArguments || rule.flags.contains(.rcu), !referenced, arg.trust != .trusted {
                    if !rule.flags.contains(.rcu) { throw error(pc, s, "R\(r) must be referenced or trusted") }
                    if arg.trust != .rcu { throw error(pc, s, "R\(r) must be a rcu pointer") }
                }
                if rule.flags.contains(.release), referenced {
                    guard released == nil else { throw error(pc, s, "verifier internal error: more than one arg with ref_obj_id R\(r)") }
                    guard arg.offset == 0, arg.hasFixedOffset else {
                        throw error(pc, s, "R\(r) must have zero offset when passed to release func or trusted arg to kfunc")
                    }
                    released = arg
                }
                // Offset 0 of the struct named, or (not for a reference released) of one that
                // begins with it.
                guard arg.offset == 0, arg.hasFixedOffset else {
                    throw error(pc, s, "R\(r) must have zero offset when passed to a kernel function taking a kernel object")
                }
                let matches = referenced && rule.flags.contains(.release) ? arg.btfType == type : types.begins(arg.btfType, with: structName)
                guard matches else {
                    throw error(
                        pc, s,
                        "kernel function \(name) args#\(i) expected pointer to STRUCT \(structName) but R\(r) has a pointer to STRUCT \(types.name(ofType: arg.btfType))"
                    )
                }
            case .voidPointer, .other, .void:
                throw error(
                    pc, s, "kernel function \(name): argument \(parameter.name) (\(Self.describe(parameter.value))) is not supported by SwiftBPF's verifier")
            }
        }
        if rule.flags.contains(.release) {
            guard let released else { throw error(pc, s, "release kernel function \(name) expects refcounted PTR_TO_BTF_ID") }
            try release(&s, pc, released, unacquired: "kfunc \(name)#\(insn.imm) reference has not been acquired before")
        }
        for r in 1...5 { s[register: r] = .uninitialized }
        switch function.result {
        case .scalar, .voidPointer:
            guard !rule.flags.contains(.acquire) else { throw error(pc, s, "acquire kernel function does not return PTR_TO_BTF_ID") }
            s[register: 0] = .unknownScalar
        case .void:
            guard !rule.flags.contains(.acquire) else { throw error(pc, s, "acquire kernel function does not return PTR_TO_BTF_ID") }
            s[register: 0] = .uninitialized
        case let .structPointer(type, _):
            var r0 = Register.kernelObject(type: type)
            r0.trust = .plain
            if rule.flags.contains(.returnsNull) {
                r0.maybeNull = true
                r0.id = freshID()
            }
            if rule.flags.contains(.acquire) {
                // A reference is trusted (is_trusted_reg: ref_obj_id set).
                r0.trust = .trusted
                if r0.id == 0 { r0.id = freshID() }
                r0.referenceID = r0.id
                s.references.append(.init(id: r0.id, instruction: pc))
            }
            s[register: 0] = r0
        case .other:
            throw error(pc, s, "kernel function \(name) returns \(Self.describe(function.result)), not supported by SwiftBPF's verifier")
        }
        return .next(pc + 1)
    }

    private static func describe(_ value: KernelFunctionPrototype.Value) -> String {
        switch value {
        case .void: "void"
        case .scalar(let size): "a \(size)-byte number"
        case .structPointer(_, let name): "struct \(name) *"
        case .voidPointer: "void *"
        case .other(let text): text
        }
    }

    /// The structs a program type's context is, as the program and as the kernel sees it
    /// (`bpf_types.h`): a kfunc parameter of one of them takes the context
    /// (`btf_is_prog_ctx_type`).
    private static func contextStructs(of type: ProgramType) -> Set<String> {
        switch type {
        case .socketFilter, .schedCLS, .schedACT, .cgroupSKB, .lwtIn, .lwtOut, .lwtXmit, .lwtSeg6Local, .skSKB: ["__sk_buff", "sk_buff"]
        case .xdp: ["xdp_md", "xdp_buff"]
        case .kprobe: ["pt_regs", "bpf_user_pt_regs_t"]
        case .perfEvent: ["bpf_perf_event_data", "bpf_perf_event_data_kern"]
        case .cgroupSock: ["bpf_sock", "sock"]
        case .cgroupSockAddr: ["bpf_sock_addr", "bpf_sock_addr_kern"]
        case .sockOps: ["bpf_sock_ops", "bpf_sock_ops_kern"]
        case .cgroupDevice: ["bpf_cgroup_dev_ctx"]
        case .skMsg: ["sk_msg_md", "sk_msg"]
        case .cgroupSysctl: ["bpf_sysctl", "bpf_sysctl_kern"]
        case .cgroupSockopt: ["bpf_sockopt", "bpf_sockopt_kern"]
        case .skReuseport: ["sk_reuseport_md", "sk_reuseport_kern"]
        case .skLookup: ["bpf_sk_lookup", "bpf_sk_lookup_kern"]
        case .flowDissector: ["__sk_buff", "bpf_flow_dissector"]
        default: []
        }
    }
}

public import BPFCore
public import BTF

/// Which helpers the running kernel lets each program type call, found as `bpftool feature
/// probe` finds them: a program calling the helper is loaded, and only a refusal naming the
/// helper as unknown or not allowed (`get_func_proto` answering none) counts as unavailable;
/// the program's other faults (its arguments are never set) are the verifier's later checks.
public enum HelperProbe {
    /// One kind of program to probe: a type, and for types whose helpers depend on where they
    /// attach, the attach type and the vmlinux BTF name of the attach target.
    public struct Target: Sendable, CustomStringConvertible {
        public var programType: ProgramType
        public var attachType: AttachType?
        /// A `btf_trace_*` typedef or a `bpf_iter_*` function in vmlinux BTF.
        public var attachBTFName: String?
        public var flags: ProgramFlags = []

        public var description: String {
            [programType.description, attachType.map { "\($0)" }, attachBTFName].compactMap { $0 }.joined(separator: " ")
        }
    }

    /// Every program type the kernel loads without a program to extend or a struct to
    /// implement, with each attach type that changes its helpers (socket-address and sockopt
    /// hooks, cgroup socket hooks, tracing's tp_btf and iter).
    public static let targets: [Target] = {
        var targets: [Target] = []
        let plain: [ProgramType] = [
            .socketFilter, .kprobe, .schedCLS, .schedACT, .tracepoint, .xdp, .perfEvent, .cgroupSKB, .lwtIn, .lwtOut, .lwtXmit,
            .sockOps, .skSKB, .cgroupDevice, .skMsg, .rawTracepoint, .lwtSeg6Local, .lircMode2, .flowDissector, .cgroupSysctl,
            .rawTracepointWritable,
        ]
        targets += plain.map { Target(programType: $0) }
        let cgroupSock: [AttachType] = [.cgroupInetSockCreate, .cgroupInetSockRelease, .cgroupInet4PostBind, .cgroupInet6PostBind]
        targets += cgroupSock.map { Target(programType: .cgroupSock, attachType: $0) }
        let sockAddr: [AttachType] = [
            .cgroupInet4Bind, .cgroupInet6Bind, .cgroupInet4Connect, .cgroupInet6Connect, .cgroupUdp4Sendmsg, .cgroupUdp6Sendmsg,
            .cgroupUdp4Recvmsg, .cgroupUdp6Recvmsg, .cgroupInet4Getpeername, .cgroupInet6Getpeername, .cgroupInet4Getsockname,
            .cgroupInet6Getsockname, .cgroupUnixConnect, .cgroupUnixSendmsg, .cgroupUnixRecvmsg, .cgroupUnixGetpeername,
            .cgroupUnixGetsockname,
        ]
        targets += sockAddr.map { Target(programType: .cgroupSockAddr, attachType: $0) }
        targets += [AttachType.cgroupGetsockopt, .cgroupSetsockopt].map { Target(programType: .cgroupSockopt, attachType: $0) }
        targets += [AttachType.skReuseportSelect, .skReuseportSelectOrMigrate].map { Target(programType: .skReuseport, attachType: $0) }
        targets += [
            Target(programType: .skLookup, attachType: .skLookup),
            Target(programType: .tracing, attachType: .traceRawTp, attachBTFName: "btf_trace_sched_switch"),
            Target(programType: .tracing, attachType: .traceIter, attachBTFName: "bpf_iter_task"),
            Target(programType: .syscall, flags: .sleepable),
        ]
        return targets
    }()

    /// The helpers (by id, of `1..<limit`) a program of `target` may call in the running kernel.
    /// - Throws: ``KernelError`` when the kernel refuses the probe itself (no permission, or the
    ///   program type unknown to it), or when vmlinux BTF lacks the attach target.
    public static func availableHelpers(_ target: Target, limit: Int32, btf: BTF? = BTF.vmlinux) throws(KernelError) -> [HelperID] {
        var attachBTFID: UInt32 = 0
        if let name = target.attachBTFName {
            guard
                let id = btf?.typeID(
                    named: name,
                    where: { kind in
                        switch kind {
                        case .typedef, .function: true
                        default: false
                        }
                    })
            else {
                throw .cannotAttach(program: "\(target)", reason: "the kernel's BTF has no \(name)")
            }
            attachBTFID = UInt32(id)
        }
        var available: [HelperID] = []
        for id in 1..<limit {
            let code = [
                Instruction(opcode: OpClass.jmp.rawValue | JumpOp.call.rawValue, imm: id),
                Instruction(opcode: OpClass.alu64.rawValue | ALUOp.mov.rawValue, dst: 0, imm: 0),
                Instruction(opcode: OpClass.jmp.rawValue | JumpOp.exit.rawValue),
            ]
            do {
                _ = try KernelProgram(
                    type: target.programType, instructions: code, logLevel: 1, expectedAttachType: target.attachType, flags: target.flags,
                    attachBTFID: attachBTFID)
                available.append(HelperID(rawValue: id))
            } catch {
                guard let log = error.log, !log.isEmpty else { throw error }
                let refusals = ["invalid func ", "unknown func ", "program of this type cannot use helper", "not supported for program type"]
                if refusals.contains(where: { log.contains($0) }) {
                    continue
                }
                available.append(HelperID(rawValue: id))
            }
        }
        return available
    }
}

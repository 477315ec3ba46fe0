import BPFCore
import BPFKernel
import BPFVerifier
import Testing

private let kernelReason = KernelSupport.unavailableReason

/// One program type's context, as a load wants it: the type, the attach type it is loaded with,
/// how many bytes of its context to sweep, and the accesses SwiftBPF refuses where the kernel
/// does not, on purpose: a field that loads a socket or flow-keys pointer (not modelled), and for
/// tracepoints reads before the record (the kernel's bounds check compares a negative offset
/// unsigned against the header's size and lets it through).
struct ContextSweepCase: CustomTestStringConvertible, Sendable {
    var type: ProgramType
    var attachType: AttachType?
    var size: Int
    var unmodelledPointer: Int16?
    var refusesNegativeOffsets = false
    var testDescription: String { attachType.map { "\(type) (\($0))" } ?? "\(type)" }
}

/// Every context access — each offset from just before the context to past its end, each
/// width, loads, sign-extending loads, register and immediate stores — through our verifier and
/// the kernel's, for every program type whose context SwiftBPF models: the verdicts must be the
/// same, access by access (the kernel's `is_valid_access` and `convert_ctx_access`).
@Suite("Context accesses against the kernel's, exhaustively", .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")))
struct ContextAccessSweepTests {
    static let cases: [ContextSweepCase] = {
        let skb: [(ProgramType, AttachType?)] = [
            (.socketFilter, nil), (.schedCLS, nil), (.schedACT, nil), (.cgroupSKB, nil), (.cgroupSKB, .cgroupInetEgress), (.skSKB, nil),
            (.skSKB, .skSkbStreamVerdict), (.lwtIn, nil), (.lwtXmit, nil), (.lwtSeg6Local, nil),
        ]
        let sockAddr: [AttachType] = [.cgroupInet4Connect, .cgroupInet6Bind, .cgroupUdp4Sendmsg, .cgroupUdp6Sendmsg, .cgroupUdp4Recvmsg]
        let sock: [AttachType?] = [nil, .cgroupInet4PostBind, .cgroupInet6PostBind, .cgroupInetSockRelease]
        return [
            .init(type: .xdp, size: 24), .init(type: .tracepoint, size: 64, refusesNegativeOffsets: true), .init(type: .rawTracepoint, size: 104),
            .init(type: .kprobe, size: 176), .init(type: .perfEvent, size: 192),
            .init(type: .flowDissector, attachType: .flowDissector, size: 192, unmodelledPointer: 144),
            .init(type: .sockOps, size: 232, unmodelledPointer: 184), .init(type: .skMsg, attachType: .skMsgVerdict, size: 88, unmodelledPointer: 72),
            .init(type: .skLookup, attachType: .skLookup, size: 80, unmodelledPointer: 0),
            .init(type: .cgroupSockopt, attachType: .cgroupGetsockopt, size: 48, unmodelledPointer: 0),
            .init(type: .cgroupSockopt, attachType: .cgroupSetsockopt, size: 48, unmodelledPointer: 0),
            .init(type: .cgroupSysctl, attachType: .cgroupSysctl, size: 16), .init(type: .cgroupDevice, attachType: .cgroupDevice, size: 16),
        ] + skb.map { .init(type: $0.0, attachType: $0.1, size: 192, unmodelledPointer: 168) }
            + sockAddr.map { .init(type: .cgroupSockAddr, attachType: $0, size: 72, unmodelledPointer: 64) }
            + sock.map { .init(type: .cgroupSock, attachType: $0, size: 80) }
    }()

    /// The accesses of one sweep: (offset, width, kind), kind 0 a load, 1 a sign-extending
    /// load, 2 a register store, 3 an immediate store.
    static func accesses(size: Int) -> [(offset: Int16, width: Int, kind: Int)] {
        var all: [(Int16, Int, Int)] = []
        for offset in -8..<(size + 8) {
            for width in [1, 2, 4, 8] {
                for kind in 0..<4 where !(kind == 1 && width == 8) { all.append((Int16(offset), width, kind)) }
            }
        }
        return all
    }

    static func program(offset: Int16, width: Int, kind: Int) -> [Instruction] {
        let bits: UInt8 = [1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18][width]!
        let access: Instruction =
            switch kind {
            case 0: Instruction(opcode: 0x61 | bits, dst: 0, src: 1, offset: offset)
            case 1: Instruction(opcode: 0x81 | bits, dst: 0, src: 1, offset: offset)
            case 2: Instruction(opcode: 0x63 | bits, dst: 1, src: 2, offset: offset)
            default: Instruction(opcode: 0x62 | bits, dst: 1, offset: offset, imm: 0)
            }
        return [Instruction(opcode: 0xb7, dst: 2, imm: 0), access, Instruction(opcode: 0xb7, dst: 0, imm: 1), Instruction(opcode: 0x95)]
    }

    @Test("the same verdict as the kernel for every access", arguments: cases)
    func sweep(_ c: ContextSweepCase) throws {
        var configuration = Verifier.Configuration(programType: c.type)
        configuration.attachType = c.attachType
        configuration.returnRange = nil
        var onlyOurs: [String] = [], onlyKernel: [String] = []
        var agreed = 0
        for (offset, width, kind) in Self.accesses(size: c.size) {
            let code = Self.program(offset: offset, width: width, kind: kind)
            let ours = (try? Verifier.verify(code, configuration)) != nil
            let kernel: Bool
            do {
                _ = try KernelProgram(type: c.type, instructions: code, expectedAttachType: c.attachType)
                kernel = true
            } catch {
                kernel = false
            }
            let what = "\(["ldx", "ldsx", "stx", "st"][kind]) off=\(offset) size=\(width)"
            switch (ours, kernel) {
            case (true, false): onlyOurs.append(what)
            case (false, true): onlyKernel.append(what)
            default: agreed += 1
            }
        }
        #expect(onlyOurs.isEmpty, "accepted only by us: \(onlyOurs)")
        let pointer = c.unmodelledPointer.map { "ldx off=\($0) size=8" }
        let unexplained = onlyKernel.filter { $0 != pointer && !(c.refusesNegativeOffsets && $0.contains("off=-")) }
        #expect(unexplained.isEmpty, "refused only by us: \(unexplained.count): \(unexplained.prefix(40))")
        // What is declared unmodelled still is (else the declaration goes).
        if let pointer { #expect(onlyKernel.contains(pointer)) }
        #expect(agreed > 0)
    }
}

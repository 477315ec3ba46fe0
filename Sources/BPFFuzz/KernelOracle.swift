import BPFCore
package import BPFKernel
import BTF

/// The running kernel's verifier as the oracle: the fuzzing maps created once, each program
/// loaded (privileged, GPL) and its verdict taken from the load, its message from the log.
package final class KernelOracle {
    /// The maps, a set per program type: a program array belongs to the first program type
    /// that uses it, and refuses the others.
    private var maps: [ProgramType: [KernelMap]] = [:]
    /// A BTF of one function type, `int f(void)`, that every subprogram of a program is given
    /// as its BTF function info: the kernel wants it of programs with callbacks.
    private let functions: KernelBTF?

    /// - Throws: ``KernelError`` when the maps cannot be created (no `bpf(2)`).
    package init() throws(KernelError) {
        functions = Self.functionTypes().flatMap { try? KernelBTF($0) }
        _ = try fds(for: .xdp)
    }

    /// `[1] int`, `[2] int (void)`, `[3] static int f(void)`.
    private static func functionTypes() -> BTF? {
        var bytes: [UInt8] = [0x9f, 0xeb, 1, 0]
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        let types: [UInt32] = [1, 1 << 24, 4, 0x0100_0020, 0, 13 << 24, 1, 5, 12 << 24, 2]
        let strings = Array("\0int\0f\0".utf8)
        u32(24); u32(0); u32(UInt32(types.count * 4)); u32(UInt32(types.count * 4)); u32(UInt32(strings.count))
        types.forEach(u32)
        bytes += strings
        return try? BTF(bytes: bytes)
    }

    /// Where the program's subprograms start: 0, and each call's and function address's target.
    static func subprogramStarts(_ code: [Instruction]) -> [Int] {
        var starts: Set<Int> = [0]
        for (i, insn) in code.enumerated() {
            let call = insn.opcode == 0x85 && insn.src == CallKind.local.rawValue
            let function = insn.opcode == 0x18 && insn.src == WideImmediateKind.function.rawValue
            if call || function { starts.insert(i + 1 + Int(insn.imm)) }
        }
        return starts.filter { $0 >= 0 && $0 < code.count }.sorted()
    }

    private func fds(for type: ProgramType) throws(KernelError) -> [Int32] {
        if let known = maps[type] { return known.map(\.fd) }
        var created: [KernelMap] = []
        for definition in FuzzMaps.definitions { created.append(try KernelMap(definition)) }
        maps[type] = created
        return created.map(\.fd)
    }

    package func verdict(_ program: FuzzProgram) -> Verdict {
        do {
            let code = program.code(mapFDs: try fds(for: program.type))
            let info = Self.subprogramStarts(code).map { BTFExt.FunctionInfo(instructionOffset: UInt32($0), typeID: 3) }
            _ = try KernelProgram(
                type: program.type, instructions: code, license: "GPL", name: "fuzz", btf: functions, functionInfo: functions == nil ? [] : info)
            return .accepted
        } catch {
            guard let message = error.verifierReason else { return .notJudged(error.errno?.description ?? error.description) }
            // The kernel's own internal failures (its jit_subprogs losing an inlined bpf_loop's
            // callback, for one) judge nothing about the program's safety.
            if message.hasPrefix("verifier bug") { return .notJudged(message) }
            return .refused(message)
        }
    }
}

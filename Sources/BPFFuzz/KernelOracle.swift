import BPFCore
package import BPFKernel

/// The running kernel's verifier as the oracle: the fuzzing maps created once, each program
/// loaded (privileged, GPL) and its verdict taken from the load, its message from the log.
package final class KernelOracle {
    /// The maps, a set per program type: a program array belongs to the first program type
    /// that uses it, and refuses the others.
    private var maps: [ProgramType: [KernelMap]] = [:]

    /// - Throws: ``KernelError`` when the maps cannot be created (no `bpf(2)`).
    package init() throws(KernelError) {
        _ = try fds(for: .xdp)
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
            _ = try KernelProgram(type: program.type, instructions: code, license: "GPL", name: "fuzz")
            return .accepted
        } catch {
            guard let message = error.verifierReason else { return .notJudged(error.errno?.description ?? error.description) }
            return .refused(message)
        }
    }
}

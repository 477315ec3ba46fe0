public import BPFCore
import BPFVM
import BPFVerifier

extension UserspaceProgram {
    /// Instructions that use no map, as a program of `type`: verified with the kernel's rules
    /// (as the kernel would load them), then run like a loaded object's program — how classic
    /// BPF filters, once translated, run.
    /// - Throws: ``RuntimeError`` when the type is not one the runtime runs or the verifier refuses.
    public static func load(instructions: [Instruction], type: ProgramType, name: String) throws(RuntimeError) -> UserspaceProgram {
        guard let support = ProgramTypeSupport.of(type) else { throw .unsupportedProgramType(program: name, type) }
        let report: VerifierReport
        do { report = try Verifier.verify(instructions, Verifier.Configuration(programType: type)) } catch { throw .refused(program: name, error) }
        return try UserspaceObject.engines(
            instructions, support: support, report: report, maps: [], jitOptions: JITProgram.Options(), name: name, section: "", type: type, object: nil)
    }
}

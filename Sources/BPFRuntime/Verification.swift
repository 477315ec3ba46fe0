import BPFCore
import BPFPlatform
public import BPFObject
public import BPFVerifier
public import BTF
import BPFMaps

extension UserspaceObject {
    /// Verifies program `name` (the only one when nil) as ``load(program:target:verify:)`` does
    /// before loading it, CO-RE relocated against `target` when given.
    /// - Returns: what the proof took (with the step-by-step log when `log` is set).
    /// - Throws: ``RuntimeError``: ``RuntimeError/refused(program:_:)`` when the verifier refuses.
    public func verify(program name: String? = nil, target: BTF? = nil, log: Bool = false) throws(RuntimeError) -> VerifierReport {
        try object.verifyResolved(program: name, target: target, log: log)  // resolved when created
    }
}

extension ObjectFile {
    /// Verifies program `name` (the only one when nil) from the object's map specifications
    /// alone — no map is created, so a map type the runtime cannot run does not stop the proof —
    /// CO-RE relocated against `target` when given.
    /// - Returns: what the proof took (with the step-by-step log when `log` is set).
    /// The object's `__kconfig` externs take this host's values first, as both backends give
    /// them at load: the verifier reads the frozen `.kconfig` map as known numbers.
    /// - Throws: ``RuntimeError``: ``RuntimeError/refused(program:_:)`` when the verifier refuses,
    ///   ``RuntimeError/kconfig(_:)`` for an extern this host has no value for.
    public func verify(program name: String? = nil, target: BTF? = nil, log: Bool = false) throws(RuntimeError) -> VerifierReport {
        var resolved = self
        do throws(ObjectError) { try resolved.resolveKconfig(KernelConfiguration.values) } catch { throw .kconfig(error) }
        return try resolved.verifyResolved(program: name, target: target, log: log)
    }

    /// ``verify(program:target:log:)`` of an object whose kconfig externs have their values.
    func verifyResolved(program name: String?, target: BTF?, log: Bool) throws(RuntimeError) -> VerifierReport {
        let (program, kind, linked) = try prepare(name, target: target)
        return try UserspaceObject.verify(program, kind, linked, maps: maps, license: license, target: target, log: log)
    }

    /// Links program `name` and names its type.
    func prepare(_ name: String?, target: BTF?) throws(RuntimeError) -> (ObjectFile.Program, SectionNames.Match, LinkedProgram) {
        let program: ObjectFile.Program
        do { program = try self.program(selecting: name) } catch { throw .preparing(program: name ?? "?", error) }
        guard let kind = program.kind else {
            throw .preparing(program: program.name, ObjectError(section: program.section, "the section names no known program type"))
        }
        do { return (program, kind, try link(program, target: target)) } catch { throw .preparing(program: program.name, error) }
    }
}

extension UserspaceObject {
    /// Runs the verifier on a linked program: its map references become map indexes
    /// (`BPF_PSEUDO_MAP_IDX`, `…_IDX_VALUE`), read-only data maps are read-only to it, and
    /// errors name the C source line where BTF line info has one.
    static func verify(
        _ program: ObjectFile.Program, _ kind: SectionNames.Match, _ linked: LinkedProgram, maps: [MapDefinition], license: String?, target: BTF?,
        log: Bool
    ) throws(RuntimeError)
        -> VerifierReport
    {
        var code = linked.instructions
        for reference in linked.mapReferences {
            let i = reference.instruction
            code[i].src = reference.valueOffset == nil ? WideImmediateKind.mapIndex.rawValue : WideImmediateKind.mapIndexValue.rawValue
            code[i].imm = Int32(reference.map)
            code[i + 1].imm = Int32(reference.valueOffset ?? 0)
        }
        var configuration = Verifier.Configuration(programType: kind.type, maps: maps.map(\.shape))
        AttachPointRules.configure(&configuration, kind: kind, target: target)
        // Both backends freeze read-only global data (.rodata, .kconfig) once it is written.
        for (index, map) in maps.enumerated() where map.readOnly && map.type == .array && map.maxEntries == 1 {
            if let value = map.initialValue { configuration.frozenValues[index] = value }
        }
        configuration.log = log
        configuration.mapNames = maps.map(\.name)
        configuration.gplCompatible = ObjectFile.isGPLCompatible(license)
        configuration.hasFunctionInfo = !linked.functionInfo.isEmpty
        var lastLine: String?
        let sourceLines = program.sourceLines
        for i in 0..<code.count {
            if let source = sourceLines.last(where: { $0.instruction == i }) {
                let file = source.file.split(separator: "/").last.map(String.init) ?? source.file
                lastLine = "\(file):\(source.line): \(source.text.trimmingPrefix(while: { $0 == " " || $0 == "\t" }))"
            }
            if let lastLine, i < program.instructions.count { configuration.sourceLines[i] = lastLine }
        }
        do { return try Verifier.verify(code, configuration) } catch {
            var error = error
            if let reason = linked.poisoned[error.instruction] { error.message += " (a CO-RE relocation the target cannot satisfy: \(reason))" }
            throw .refused(program: program.name, error)
        }
    }
}

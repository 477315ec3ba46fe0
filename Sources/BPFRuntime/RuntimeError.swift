public import BPFCore
public import BPFMaps
public import BPFObject
public import BPFVM
public import BPFVerifier

/// Why the userspace runtime could not load a program.
public enum RuntimeError: Error, Sendable, CustomStringConvertible {
    /// The program could not be prepared: it is not in the object, its section names no program
    /// type, or its relocations cannot be resolved. The error names the section and offset.
    case preparing(program: String, ObjectError)
    /// The runtime does not build a context for programs of this type
    /// (``ProgramTypeSupport/supported`` lists those it does).
    case unsupportedProgramType(program: String, ProgramType)
    /// The verifier refused the program: where, why, and in what state.
    case refused(program: String, VerificationError)
    /// The verified program could not be prepared for an engine.
    case engine(program: String, PreparationError)
    /// A map the program uses could not be created in the runtime (``UserspaceObject/unavailableMaps``).
    case mapUnavailable(program: String, map: String, MapError)
    /// A `__kconfig` extern of the object has no value on this host.
    case kconfig(ObjectError)

    /// The program the error is about.
    public var program: String {
        switch self {
        case let .preparing(program, _), let .unsupportedProgramType(program, _), let .refused(program, _), let .engine(program, _),
            let .mapUnavailable(program, _, _):
            program
        case .kconfig: "-"
        }
    }

    /// The verifier's refusal, when that is why the program did not load.
    public var verification: VerificationError? {
        if case let .refused(_, error) = self { error } else { nil }
    }

    /// What is wrong, without the program's name.
    public var reason: String {
        switch self {
        case let .preparing(_, error): error.description
        case let .unsupportedProgramType(_, type):
            "\(type) programs need a context the userspace runtime does not build yet (\(ProgramTypeSupport.supported.map(\.description).joined(separator: ", ")) are supported)"
        case let .refused(_, error): "verifier: \(error)"
        case let .engine(_, error): error.description
        case let .mapUnavailable(_, map, error): "uses map \(map), which the userspace runtime cannot create: \(error)"
        case let .kconfig(error): error.description
        }
    }

    public var description: String {
        switch self {
        case .kconfig: reason
        default: "program \(program): \(reason)"
        }
    }
}

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
    /// The program cannot be attached where asked: no such hook, a program type the hook does
    /// not run, a section naming no hook.
    case cannotAttach(program: String, reason: String)
    /// A hook could not be declared (the name is taken, too many arguments).
    case hook(name: String, reason: String)
    /// Pinning: the path is taken, or holds nothing.
    case pin(path: String, reason: String)

    /// The program the error is about.
    public var program: String {
        switch self {
        case let .preparing(program, _), let .unsupportedProgramType(program, _), let .refused(program, _), let .engine(program, _),
            let .mapUnavailable(program, _, _), let .cannotAttach(program, _):
            program
        case .kconfig, .hook, .pin: "-"
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
        case let .cannotAttach(_, reason): reason
        case let .hook(name, reason): "hook \(name): \(reason)"
        case let .pin(path, reason): "pin \(path): \(reason)"
        }
    }

    public var description: String {
        switch self {
        case .kconfig, .hook, .pin: reason
        default: "program \(program): \(reason)"
        }
    }
}

import BPFCore
public import BPFKernel
public import BPFMaps
public import BPFObject
public import BPFRuntime
public import BPFVM

/// Why the front could not do what was asked, on either backend: a case per stage, each
/// holding the error of the module that found the problem.
public enum BPFError: Error, Sendable, CustomStringConvertible {
    /// The file could not be read.
    case unreadable(path: String)
    /// The object file is malformed or unsupported: what and where (section, offset).
    case object(ObjectError)
    /// The userspace runtime could not load a program (the verifier's refusal among them).
    case runtime(RuntimeError)
    /// The kernel refused, with its errno and log, or a program could not be prepared or attached.
    case kernel(KernelError)
    /// A program faulted at run time (checked execution), naming the instruction.
    case execution(ExecutionError)
    /// A map operation failed, with the errno the kernel would return.
    case map(MapError)
    /// The backend cannot do this, or an option does not apply to it; says which and why.
    case unsupported(backend: Backend, String)
    /// No program or map of this name; the names there are.
    case notFound(String, available: [String])

    public var description: String {
        switch self {
        case let .unreadable(path): "\(path): cannot read the file"
        case let .object(error): error.description
        case let .runtime(error): error.description
        case let .kernel(error): error.description
        case let .execution(error): error.description
        case let .map(error): error.description
        case let .unsupported(backend, reason): "\(backend) backend: \(reason)"
        case let .notFound(name, available):
            "no program or map named '\(name)' (there are: \(available.isEmpty ? "none" : available.joined(separator: ", ")))"
        }
    }
}

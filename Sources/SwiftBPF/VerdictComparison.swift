import BPFCore
import BPFKernel
public import BPFObject
import BPFRuntime
public import BTF

/// Our verifier's verdict on a program beside the running kernel's, as `swiftbpf verify
/// --kernel-compare` prints them.
public struct VerdictComparison: Sendable {
    /// The kernel's side.
    public enum KernelVerdict: Sendable, Equatable {
        case accepted
        /// Refused by its verifier: the first error line of its log.
        case refused(String)
        /// Refused before its verifier ran (no attach target, map creation, `EPERM` with no
        /// log, as fentry/fexit/lsm programs get on some kernels): the reason.
        case notJudged(String)
        /// Our kernel loader could not prepare the program (CO-RE, relocation, a map): it counts
        /// as refused by us, since libbpf would have let the kernel judge it.
        case notPrepared(String)
    }

    public var program: String
    /// Nil when our verifier accepts; the reason otherwise.
    public var ours: String?
    public var kernel: KernelVerdict

    /// The summary class: A both accept, B both refuse, C accepted only by us, D refused only by
    /// us (our loader's failures included), E not judged by the kernel.
    public var category: Character {
        switch (ours == nil, kernel) {
        case (_, .notJudged): "E"
        case (_, .notPrepared): "D"
        case (true, .accepted): "A"
        case (false, .refused): "B"
        case (true, .refused): "C"
        case (false, .accepted): "D"
        }
    }

    /// Compares every program of `file` (those named in `programs`, when given): each verified by
    /// us from the object's map specifications, and loaded into the kernel alone, with the
    /// object's maps.
    /// The closing line of a comparison, from counts by ``category``: `N programs: A both
    /// accept, B both refuse, C accepted only by us, D refused only by us, E not judged by the
    /// kernel`.
    public static func summary(_ counts: [Character: Int]) -> String {
        let n = { (c: Character) in counts[c, default: 0] }
        return "\(counts.values.reduce(0, +)) programs: \(n("A")) both accept, \(n("B")) both refuse, \(n("C")) accepted only by us, "
            + "\(n("D")) refused only by us, \(n("E")) not judged by the kernel"
    }

    public static func compare(_ file: ObjectFile, programs names: [String]? = nil, target: BTF?) -> [VerdictComparison] {
        let names = names ?? file.programs.map(\.name)
        let kernelObject: Result<KernelObject, KernelError> = Result { () throws(KernelError) in try KernelObject(file) }
        return names.map { name in
            let ours = ourRefusal(file, name, target)
            let kernel: KernelVerdict
            switch kernelObject {
            case let .failure(error):
                kernel = error.errno != nil ? .notJudged("map creation: \(firstLine(error.description))") : .notPrepared(firstLine(error.description))
            case let .success(object):
                kernel = kernelVerdict(object, name, target)
            }
            return VerdictComparison(program: name, ours: ours, kernel: kernel)
        }
    }

    /// Nil when our verifier accepts `name`; the reason otherwise.
    private static func ourRefusal(_ file: ObjectFile, _ name: String, _ target: BTF?) -> String? {
        do throws(RuntimeError) {
            _ = try file.verify(program: name, target: target)
            return nil
        } catch {
            return error.verification?.message ?? error.reason
        }
    }

    private static func kernelVerdict(_ object: KernelObject, _ name: String, _ target: BTF?) -> KernelVerdict {
        do throws(KernelError) {
            _ = try object.load(program: name, target: target)
            return .accepted
        } catch {
            return verdict(error)
        }
    }

    private static func verdict(_ error: KernelError) -> KernelVerdict {
        switch error {
        case let .refused(_, errno, _):
            guard let reason = error.verifierReason else { return .notJudged("\(errno), no verifier log") }
            return .refused(reason)
        case let .preparing(_, problem) where problem.message.hasPrefix("the kernel's BTF has no"):
            return .notJudged(problem.message)
        case let .preparing(_, problem):
            return .notPrepared(problem.description)
        case let .cannotAttach(_, reason), let .noSuchObject(reason):
            return .notPrepared(reason)
        }
    }

    private static func firstLine(_ text: String) -> String { String(text.split(separator: "\n").first ?? "") }
}

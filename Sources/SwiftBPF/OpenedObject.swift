import BPFPlatform
import BPFCore
import BPFKernel
public import BPFObject
public import BPFRuntime
public import BTF

/// A parsed object file, not yet on any backend: its programs and maps as the ELF file and its
/// BTF declare them. Load it on either backend with ``load(on:options:)``.
public struct OpenedObject: Sendable {
    /// The parsed object.
    public let file: ObjectFile

    /// Parses `bytes`, a clang-compiled BPF object (`clang -O2 -g -target bpf`).
    public init(bytes: [UInt8]) throws(BPFError) {
        do { file = try ObjectFile(bytes: bytes) } catch { throw .object(error) }
        guard !file.programs.isEmpty else { throw .object(ObjectError("the object has no programs")) }
    }

    /// An object already parsed (and perhaps changed: a skeleton sets `.rodata` values in it).
    public init(_ file: ObjectFile) throws(BPFError) {
        guard !file.programs.isEmpty else { throw .object(ObjectError("the object has no programs")) }
        self.file = file
    }

    /// Reads and parses the object file at `path`.
    public init(path: String) throws(BPFError) {
        guard let bytes = readFile(path) else { throw .unreadable(path: path) }
        try self.init(bytes: bytes)
    }

    /// The object's programs, by name, in the object's order.
    public var programNames: [String] { file.programs.map(\.name) }

    /// Creates the object's maps on `backend`; its programs load when first asked for.
    public func load(on backend: Backend, options: LoadOptions = LoadOptions()) throws(BPFError) -> any LoadedObject {
        // vmlinux's BTF (5 MB to parse) only for objects with CO-RE relocations to apply or
        // tracing programs, whose context is their attach target's arguments.
        let needsKernelTypes = file.usesCORE || file.programs.contains { $0.kind?.type == .tracing }
        let target = options.target ?? (needsKernelTypes ? BTF.vmlinux : nil)
        switch backend {
        case .userspace:
            return try UserspaceLoadedObject(file, target: target, verify: options.verify, namespace: options.runtime ?? .shared)
        case .kernel:
            guard options.runtime == nil else {
                throw .unsupported(backend: .kernel, "a userspace runtime's hooks do not apply to the kernel: leave LoadOptions.runtime nil")
            }
            guard options.verify else {
                throw .unsupported(backend: .kernel, "the kernel verifies every program it loads: verify: false does not apply")
            }
            return try KernelLoadedObject(file, target: target)
        }
    }
}

/// How ``OpenedObject/load(on:options:)`` loads.
public struct LoadOptions: Sendable {
    /// The kernel BTF CO-RE relocations are resolved against; nil: the running kernel's
    /// (`/sys/kernel/btf/vmlinux`) for objects that have CO-RE relocations.
    public var target: BTF?
    /// Userspace only: whether the verifier must prove each program safe before it runs. A
    /// program loaded unverified runs checked, every access bounds-checked.
    public var verify: Bool
    /// Userspace only: the runtime whose hooks its programs attach to and whose namespace its
    /// links are pinned in; nil: the process's ``BPFRuntime/UserspaceRuntime/shared``.
    public var runtime: UserspaceRuntime?

    public init(target: BTF? = nil, verify: Bool = true, runtime: UserspaceRuntime? = nil) {
        self.target = target
        self.verify = verify
        self.runtime = runtime
    }
}

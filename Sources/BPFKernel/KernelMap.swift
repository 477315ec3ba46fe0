import BPFCore
import BPFMaps
public import BPFObject
import CBPFShims
import BPFPlatform

/// A map created in the running kernel, owning its file descriptor (closed on release).
public final class KernelMap {
    private let descriptor: Descriptor
    /// The map's file descriptor.
    public var fd: Int32 { descriptor.rawValue }
    /// What it was created from.
    public let definition: MapDefinition

    /// Creates the map with `BPF_MAP_CREATE`, naming its key and value types in `btf` when the
    /// definition has them. Like libbpf, a map the kernel refuses with types is created again
    /// without, unless its value holds a spin lock (which needs them). Global data gets its
    /// initial value, and read-only data is then frozen.
    /// A perf event array declared without a size gets a slot per possible CPU, as with libbpf.
    /// An array or hash of maps is created from a template of the maps it holds (its
    /// ``BPFObject/MapDefinition/inner`` shape), which the kernel keeps as their shape.
    public init(_ definition: MapDefinition, btf: KernelBTF? = nil) throws(KernelError) {
        var template: KernelMap?
        if let inner = definition.inner {
            let shape = inner.shape
            template = try KernelMap(
                MapDefinition(
                    name: definition.name + ".inner", type: shape.type, keySize: shape.keySize, valueSize: shape.valueSize,
                    maxEntries: shape.maxEntries, flags: shape.flags, section: definition.section, offset: definition.offset))
        } else if definition.type == .arrayOfMaps || definition.type == .hashOfMaps {
            throw .preparing(
                program: "?",
                ObjectError(section: definition.section, "map '\(definition.name)' holds maps but does not say their shape (__array(values, struct {...}))"))
        }
        var definition = definition
        if definition.type == .perfEventArray, definition.maxEntries == 0 { definition.maxEntries = PossibleCPUs.count }
        // Global data is read-only to programs where the object says so (BPF_F_RDONLY_PROG).
        let flags = definition.readOnly ? definition.flags.union(.readOnlyToPrograms) : definition.flags
        let name = kernelObjectName(definition.name)
        func create(_ btf: KernelBTF?) -> Int32 {
            cbpf_map_create(
                definition.type.rawValue, UInt32(definition.keySize), UInt32(definition.valueSize),
                UInt32(definition.maxEntries), flags.rawValue, name, btf?.fd ?? -1, definition.keyTypeID, definition.valueTypeID, template?.fd ?? -1, 0)
        }
        let typed = btf != nil && (definition.keyTypeID != 0 || definition.valueTypeID != 0)
        var fd = create(typed ? btf : nil)
        if fd < 0, typed, definition.spinLockOffset == nil { fd = create(nil) }
        guard fd >= 0 else { throw KernelError(command: "BPF_MAP_CREATE (\(definition.name))", errno: -fd) }
        descriptor = Descriptor(adopting: fd)
        self.definition = definition
        if let initial = definition.initialValue {
            try update([0, 0, 0, 0], initial)
            if definition.readOnly {
                let r = cbpf_map_freeze(fd)
                guard r == 0 else { throw KernelError(command: "BPF_MAP_FREEZE (\(definition.name))", errno: -r) }
            }
        }
    }

    /// Takes ownership of an open map descriptor (from a pin, or another loader).
    init(adopting fd: Int32, definition: MapDefinition) {
        descriptor = Descriptor(adopting: fd)
        self.definition = definition
    }

    /// Bytes a value occupies in syscalls: per-CPU maps return every possible CPU's value, each
    /// padded to 8 bytes.
    public var valueBufferSize: Int {
        isPerCPU ? perCPUValueStride * PossibleCPUs.count : definition.valueSize
    }

    /// Whether the map holds a value per CPU: per-CPU hash and array, LRU per-CPU hash,
    /// per-CPU cgroup storage.
    public var isPerCPU: Bool { definition.type.isPerCPU }

    /// Bytes between CPUs' values in a per-CPU map's syscall buffer.
    public var perCPUValueStride: Int { (definition.valueSize + 7) / 8 * 8 }

    /// The value under `key` (for per-CPU maps, every CPU's), or nil when there is none.
    public func lookup(_ key: [UInt8]) throws(KernelError) -> [UInt8]? {
        var value = [UInt8](repeating: 0, count: valueBufferSize)
        let r = key.withUnsafeBytes { k in value.withUnsafeMutableBytes { cbpf_map_elem(1, fd, k.baseAddress, $0.baseAddress, 0) } }
        if r == -Int32(ENOENT) { return nil }
        guard r == 0 else { throw KernelError(command: "BPF_MAP_LOOKUP_ELEM (\(definition.name))", errno: -r) }
        return value
    }

    /// Stores `value` under `key` with `BPF_ANY` (0), `BPF_NOEXIST` (1) or `BPF_EXIST` (2).
    public func update(_ key: [UInt8], _ value: [UInt8], flags: UInt64 = 0) throws(KernelError) {
        var value = value
        let r = key.withUnsafeBytes { k in value.withUnsafeMutableBytes { cbpf_map_elem(2, fd, k.baseAddress, $0.baseAddress, flags) } }
        guard r == 0 else { throw KernelError(command: "BPF_MAP_UPDATE_ELEM (\(definition.name))", errno: -r) }
    }

    /// Removes `key`.
    public func delete(_ key: [UInt8]) throws(KernelError) {
        let r = key.withUnsafeBytes { cbpf_map_elem(3, fd, $0.baseAddress, nil, 0) }
        guard r == 0 else { throw KernelError(command: "BPF_MAP_DELETE_ELEM (\(definition.name))", errno: -r) }
    }

    /// Every key, in the kernel's iteration order.
    public func keys() throws(KernelError) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var current: [UInt8]? = nil
        while true {
            var next = [UInt8](repeating: 0, count: definition.keySize)
            let r = next.withUnsafeMutableBytes { n in
                if let current { return current.withUnsafeBytes { cbpf_map_elem(4, fd, $0.baseAddress, n.baseAddress, 0) } }
                return cbpf_map_elem(4, fd, nil, n.baseAddress, 0)
            }
            if r == -Int32(ENOENT) { return out }
            guard r == 0 else { throw KernelError(command: "BPF_MAP_GET_NEXT_KEY (\(definition.name))", errno: -r) }
            out.append(next)
            current = next
        }
    }

    /// Pushes onto a queue or stack (`BPF_MAP_UPDATE_ELEM` without a key).
    public func push(_ value: [UInt8], flags: UInt64 = 0) throws(KernelError) {
        var value = value
        let r = value.withUnsafeMutableBytes { cbpf_map_elem(2, fd, nil, $0.baseAddress, flags) }
        guard r == 0 else { throw KernelError(command: "BPF_MAP_UPDATE_ELEM (\(definition.name))", errno: -r) }
    }

    /// Pops from a queue or stack (`BPF_MAP_LOOKUP_AND_DELETE_ELEM`), or peeks (`BPF_MAP_LOOKUP_ELEM`
    /// without a key); nil when empty.
    public func pop(remove: Bool = true) throws(KernelError) -> [UInt8]? {
        var value = [UInt8](repeating: 0, count: definition.valueSize)
        let r = value.withUnsafeMutableBytes { cbpf_map_elem(remove ? 21 : 1, fd, nil, $0.baseAddress, 0) }
        if r == -Int32(ENOENT) { return nil }
        guard r == 0 else { throw KernelError(command: "\(remove ? "BPF_MAP_LOOKUP_AND_DELETE_ELEM" : "BPF_MAP_LOOKUP_ELEM") (\(definition.name))", errno: -r) }
        return value
    }
}

/// The shape of a map: what `BPF_MAP_CREATE` takes, and what the verifier needs to know of a
/// map a program refers to.
public struct MapShape: Sendable, Equatable {
    public var type: MapType
    public var keySize: Int
    public var valueSize: Int
    public var maxEntries: Int
    public var flags: MapFlags
    /// Where the value's `struct bpf_spin_lock` lies, when it has one (from the value's BTF).
    public var spinLockOffset: Int?

    public init(type: MapType, keySize: Int, valueSize: Int, maxEntries: Int, flags: MapFlags = [], spinLockOffset: Int? = nil) {
        self.type = type
        self.keySize = keySize
        self.valueSize = valueSize
        self.maxEntries = maxEntries
        self.flags = flags
        self.spinLockOffset = spinLockOffset
    }

    /// Whether programs may only read the map's values: ``MapFlags/readOnlyToPrograms``, which
    /// the kernel also sets itself on device maps.
    public var isReadOnlyToPrograms: Bool { flags.contains(.readOnlyToPrograms) || type == .devmap || type == .devmapHash }
}

extension MapType {
    /// Whether the map holds a value per CPU: per-CPU hash and array, LRU per-CPU hash,
    /// per-CPU cgroup storage.
    public var isPerCPU: Bool { [.percpuHash, .percpuArray, .lruPercpuHash, .percpuCgroupStorage].contains(self) }
}

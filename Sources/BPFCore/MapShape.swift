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
    /// For an array or hash of maps: the shape every map it holds has (the kernel's
    /// `inner_map_meta`), which a lookup's result is verified against.
    public var inner: InnerMapShape?

    public init(
        type: MapType, keySize: Int, valueSize: Int, maxEntries: Int, flags: MapFlags = [], spinLockOffset: Int? = nil, inner: InnerMapShape? = nil
    ) {
        self.type = type
        self.keySize = keySize
        self.valueSize = valueSize
        self.maxEntries = maxEntries
        self.flags = flags
        self.spinLockOffset = spinLockOffset
        self.inner = inner
    }

    /// Whether the map holds other maps (`BPF_MAP_TYPE_ARRAY_OF_MAPS`, `…_HASH_OF_MAPS`).
    public var holdsMaps: Bool { type == .arrayOfMaps || type == .hashOfMaps }

    /// Whether programs may only read the map's values: ``MapFlags/readOnlyToPrograms``, which
    /// the kernel also sets itself on device maps.
    public var isReadOnlyToPrograms: Bool { flags.contains(.readOnlyToPrograms) || type == .devmap || type == .devmapHash }
}

extension MapType {
    /// Whether the map holds a value per CPU: per-CPU hash and array, LRU per-CPU hash,
    /// per-CPU cgroup storage.
    public var isPerCPU: Bool { [.percpuHash, .percpuArray, .lruPercpuHash, .percpuCgroupStorage].contains(self) }
}

/// The shape of the maps an array or hash of maps holds (maps of maps do not nest).
public struct InnerMapShape: Sendable, Equatable {
    public var type: MapType
    public var keySize: Int
    public var valueSize: Int
    public var maxEntries: Int
    public var flags: MapFlags
    public var spinLockOffset: Int?

    public init(type: MapType, keySize: Int, valueSize: Int, maxEntries: Int, flags: MapFlags = [], spinLockOffset: Int? = nil) {
        self.type = type
        self.keySize = keySize
        self.valueSize = valueSize
        self.maxEntries = maxEntries
        self.flags = flags
        self.spinLockOffset = spinLockOffset
    }

    /// The shape itself, as a map of its own has it.
    public var shape: MapShape {
        MapShape(type: type, keySize: keySize, valueSize: valueSize, maxEntries: maxEntries, flags: flags, spinLockOffset: spinLockOffset)
    }
}

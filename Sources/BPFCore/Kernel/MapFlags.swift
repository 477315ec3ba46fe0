/// `map_flags` of `BPF_MAP_CREATE` (the `BPF_F_*` map flags of linux/bpf.h).
public struct MapFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `BPF_F_NO_PREALLOC`: hash entries allocated on update.
    public static let noPrealloc = MapFlags(rawValue: 1 << 0)
    /// `BPF_F_NO_COMMON_LRU`: an LRU list per CPU.
    public static let noCommonLRU = MapFlags(rawValue: 1 << 1)
    /// `BPF_F_NUMA_NODE`.
    public static let numaNode = MapFlags(rawValue: 1 << 2)
    /// `BPF_F_RDONLY`: read-only through syscalls.
    public static let readOnly = MapFlags(rawValue: 1 << 3)
    /// `BPF_F_WRONLY`: write-only through syscalls.
    public static let writeOnly = MapFlags(rawValue: 1 << 4)
    /// `BPF_F_STACK_BUILD_ID`.
    public static let stackBuildID = MapFlags(rawValue: 1 << 5)
    /// `BPF_F_ZERO_SEED`.
    public static let zeroSeed = MapFlags(rawValue: 1 << 6)
    /// `BPF_F_RDONLY_PROG`: programs may read values, not write them (`.rodata`).
    public static let readOnlyToPrograms = MapFlags(rawValue: 1 << 7)
    /// `BPF_F_WRONLY_PROG`.
    public static let writeOnlyToPrograms = MapFlags(rawValue: 1 << 8)
    /// `BPF_F_CLONE`.
    public static let clone = MapFlags(rawValue: 1 << 9)
    /// `BPF_F_MMAPABLE`: the values can be mapped into user space (global data).
    public static let mmapable = MapFlags(rawValue: 1 << 10)
    /// `BPF_F_PRESERVE_ELEMS`.
    public static let preserveElements = MapFlags(rawValue: 1 << 11)
    /// `BPF_F_INNER_MAP`.
    public static let innerMap = MapFlags(rawValue: 1 << 12)
}

import BPFCore

extension MapDefinition {
    /// The entries given a map the object leaves at `max_entries` 0 for its host to size before
    /// loading, as libbpf-tools' loaders do (`bpf_map__set_max_entries`): their usual size.
    public static let defaultMaxEntries = 10240
    /// The frames a stack trace map's values hold when the object leaves `value_size` 0:
    /// `PERF_MAX_STACK_DEPTH`, what libbpf-tools' loaders set (8 bytes a frame).
    public static let defaultStackDepth = 127

    /// The definition with what its host was to size filled in with the stated defaults
    /// (``defaultMaxEntries``, ``defaultStackDepth``); a perf event array's entries are left to
    /// the loader, which gives it one per possible CPU.
    func sizedForLoading() -> MapDefinition {
        var sized = self
        if sized.maxEntries == 0, type != .perfEventArray, type != .ringbuf, initialValue == nil { sized.maxEntries = Self.defaultMaxEntries }
        if type == .stackTrace, sized.valueSize == 0 { sized.valueSize = Self.defaultStackDepth * 8 }
        return sized
    }
}

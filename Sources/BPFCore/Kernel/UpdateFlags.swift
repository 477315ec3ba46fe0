/// `flags` of `bpf_map_update_elem`.
public enum UpdateFlags: UInt64, Sendable {
    /// Create or replace (`BPF_ANY`).
    case any = 0
    /// Create only (`BPF_NOEXIST`).
    case noExist = 1
    /// Replace only (`BPF_EXIST`).
    case exist = 2
}

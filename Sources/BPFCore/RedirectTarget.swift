/// Where a program sent its packet with `bpf_redirect` or `bpf_redirect_map`, as a test run on
/// the userspace runtime records it (the kernel's test run does not report it).
public enum RedirectTarget: Sendable, Equatable {
    /// `bpf_redirect(ifindex, flags)`: an interface, to its ingress with `BPF_F_INGRESS` (tc).
    case interface(ifindex: UInt32, ingress: Bool)
    /// `bpf_redirect_map(map, key, flags)`: the entry `key` of a device, CPU or AF_XDP socket map.
    case mapEntry(map: String, key: UInt32)
    /// `bpf_redirect_map` with `BPF_F_BROADCAST`: every interface of a device map, the one the
    /// packet came in on left out with `BPF_F_EXCLUDE_INGRESS`.
    case broadcast(map: String, excludingIngress: Bool)
}

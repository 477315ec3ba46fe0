import BPFCore
import BPFObject

/// What attaching by section name needs beyond the section.
public struct AttachOptions: Sendable {
    /// The network interface XDP and tc programs attach to.
    public var interface: String?
    /// How XDP and tc programs are joined to the interface.
    public var interfaceAttachment: InterfaceAttachment
    /// The USDT probe a `usdt` program whose section names none attaches to:
    /// `BINARY:PROVIDER:NAME`, as in libbpf's `SEC("usdt/BINARY:PROVIDER:NAME")` (a section
    /// that names one attaches there).
    public var probe: String?
    /// The cgroup (a cgroup v2 directory) cgroup programs attach to.
    public var cgroup: String?

    public init(interface: String? = nil, interfaceAttachment: InterfaceAttachment = .automatic, probe: String? = nil, cgroup: String? = nil) {
        self.interface = interface
        self.interfaceAttachment = interfaceAttachment
        self.probe = probe
        self.cgroup = cgroup
    }
}

extension KernelProgram {
    /// Attaches the program where its section says, as libbpf's auto-attach does: tracepoints
    /// (`tp/C/N`, `tracepoint/C/N`), raw tracepoints (`raw_tp/N`), BTF-attached programs
    /// (`tp_btf/`, `fentry/`, `fexit/`, `fmod_ret/`, `lsm/`: the target named at load), kprobes
    /// (`kprobe/F[+OFF]`, `kretprobe/F`), uprobes (`uprobe/BINARY:F[+OFF]`, `uretprobe/…`), USDT probes
    /// (`usdt/BINARY:PROVIDER:NAME`, see ``USDTLink``), with ``AttachOptions/cgroup`` cgroup
    /// programs (`cgroup_skb/…`, `cgroup/…`, `sockops`, see ``CgroupLink``), and
    /// with ``AttachOptions/interface`` XDP (`xdp`) and tc classifiers (`tc`, `tcx/ingress`,
    /// `tcx/egress`).
    /// - Throws: ``KernelError/cannotAttach(program:reason:)`` when the section names no attach
    ///   point this loader knows or the options lack what it needs; the kernel's refusal otherwise.
    public func attach(_ options: AttachOptions = AttachOptions()) throws(KernelError) -> any KernelLink {
        let name = self.name ?? "?", section = self.section ?? "", target = attachTarget ?? ""
        func cannot(_ reason: String) -> KernelError { .cannotAttach(program: name, reason: reason) }
        func sectionKind(_ prefixes: String...) -> String? { prefixes.first { section.hasPrefix($0 + "/") } }
        switch type {
        case .tracepoint:
            let parts = target.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw cannot("section '\(section)' names no tracepoint (tp/CATEGORY/NAME)") }
            return try TracepointLink(self, category: parts[0], name: parts[1])
        case .rawTracepoint:
            guard !target.isEmpty else { throw cannot("section '\(section)' names no raw tracepoint (raw_tp/NAME)") }
            return try RawTracepointLink(self, name: target)
        case .tracing where sectionKind("fentry", "fexit", "fmod_ret", "tp_btf") != nil, .lsm where sectionKind("lsm") != nil:
            return try RawTracepointLink(attaching: self)
        case .kprobe where section == "usdt" || section.hasPrefix("usdt/"):
            // The section's probe first; AttachOptions.probe is for a bare `usdt` section.
            guard let probe = USDTProbe.target(target.isEmpty ? options.probe ?? "" : target) else {
                throw cannot("section '\(section)' names no BINARY:PROVIDER:NAME (give one: AttachOptions.probe, swiftbpf load --probe)")
            }
            return try USDTLink(self, binary: probe.binary, provider: probe.provider, name: probe.name)
        case .kprobe where !target.isEmpty:
            guard let kind = sectionKind("kprobe", "kretprobe", "uprobe", "uretprobe") else {
                throw cannot("section '\(section)' is not a kprobe or uprobe this loader attaches")
            }
            let isReturn = kind.hasSuffix("retprobe")
            if kind.hasPrefix("k") {
                let (function, offset) = try Self.symbolAndOffset(Substring(target), cannot)
                return try ProbeLink(self, kernelFunction: function, offset: offset, isReturn: isReturn)
            }
            guard let colon = target.lastIndex(of: ":") else { throw cannot("section '\(section)' names no BINARY:FUNCTION") }
            let (function, offset) = try Self.symbolAndOffset(target[target.index(after: colon)...], cannot)
            return try ProbeLink(self, binary: String(target[..<colon]), symbol: function.isEmpty ? nil : function, offset: offset, isReturn: isReturn)
        case .xdp, .schedCLS:
            guard let interface = options.interface else { throw cannot("an interface is needed to attach \(type) programs") }
            if type == .xdp { return try XDPLink(self, interface: interface, using: options.interfaceAttachment) }
            let direction: TCLink.Direction = section.hasSuffix("egress") ? .egress : .ingress
            return try TCLink(self, interface: interface, direction: direction, using: options.interfaceAttachment)
        case .cgroupSKB, .cgroupSock, .cgroupSockAddr, .cgroupDevice, .cgroupSysctl, .cgroupSockopt, .sockOps:
            guard let cgroup = options.cgroup else { throw cannot("a cgroup is needed to attach \(type) programs (AttachOptions.cgroup)") }
            return try CgroupLink(self, cgroup: cgroup)
        default:
            throw cannot("\(type) programs from section '\(section)' are not attached by section name")
        }
    }

    /// `FUNCTION[+OFFSET]`, the offset decimal or `0x` hexadecimal, as libbpf reads them.
    private static func symbolAndOffset(_ text: Substring, _ cannot: (String) -> KernelError) throws(KernelError) -> (String, UInt64) {
        let parts = text.split(separator: "+", maxSplits: 1)
        guard parts.count == 2 else { return (String(parts.first ?? ""), 0) }
        let offset = parts[1].hasPrefix("0x") ? UInt64(parts[1].dropFirst(2), radix: 16) : UInt64(parts[1])
        guard let offset else { throw cannot("'\(parts[1])' is not an offset") }
        return (String(parts[0]), offset)
    }
}

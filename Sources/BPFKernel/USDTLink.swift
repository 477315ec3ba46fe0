public import BPFObject
import CBPFShims
import BPFPlatform

/// The `__bpf_usdt_specs` map of an object and the ids handed out in it: every `usdt` program
/// of the object reads its probe's argument specification there by its attach cookie.
final class USDTSpecificationTable {
    private let map: KernelMap
    /// The records written, by id.
    private var written: [[UInt8]: Int32] = [:]

    init(_ map: KernelMap) { self.map = map }

    /// The id `record` is under, written there when new.
    func add(_ record: [UInt8], what: String) throws(KernelError) -> Int32 {
        if let id = written[record] { return id }
        let id = Int32(written.count)
        guard id < Int32(map.definition.maxEntries) else {
            throw KernelError(
                command: "\(what): the object's \(USDTSpecification.mapName) map is full (\(map.definition.maxEntries) specifications)", errno: E2BIG)
        }
        try map.update(withUnsafeBytes(of: id.littleEndian, Array.init), record)
        written[record] = id
        return id
    }
}

/// A `usdt` program attached to a USDT probe in an executable or shared library, as libbpf's
/// `bpf_program__attach_usdt` does: a uprobe at every site of the probe (inlined copies
/// included), the probe's semaphore as the uprobe's reference counter, and each site's argument
/// specification written to the object's `__bpf_usdt_specs` under the id passed as the link's
/// cookie — so programs built on `usdt.bpf.h` (`BPF_USDT`, `bpf_usdt_arg`) work unchanged.
public final class USDTLink: KernelLink {
    private let sites: [(perf: Descriptor, link: Descriptor)]
    /// The probe's sites in the binary.
    public let probes: [USDTProbe]
    public let summary: String
    /// The first site's bpf_link (each site has its own; pinning keeps the first).
    public var linkFD: Int32? { sites.first?.link.rawValue }

    /// Attaches `program` to probe `provider`:`name` of `binary` (a path, or a library's or
    /// executable's name, found as libbpf finds it) in process `process` (-1: every process
    /// running it); `cookie` is what `bpf_usdt_cookie` returns.
    /// - Throws: ``KernelError`` when the binary has no such probe, the program's object has no
    ///   specification map (it does not include `usdt.bpf.h`), or the kernel refuses.
    public init(_ program: KernelProgram, binary: String, provider: String, name: String, cookie: UInt64 = 0, process: Int32 = -1) throws(KernelError) {
        let what = "usdt \(binary):\(provider):\(name)"
        summary = what
        let binary = HostSymbols.resolve(binary)
        guard let bytes = readFile(binary) else { throw KernelError(command: "\(what): cannot read \(binary)", errno: ENOENT) }
        let all: [USDTProbe]
        do { all = try USDTProbe.all(inELF: bytes) } catch { throw KernelError(command: "\(what): \(error)", errno: EINVAL) }
        probes = all.filter { $0.provider == provider && $0.name == name }
        guard !probes.isEmpty else {
            let known = all.map { "\($0.provider):\($0.name)" }
            throw KernelError(
                command: "\(what): no such probe (the binary has \(known.isEmpty ? "none" : Set(known).sorted().joined(separator: ", ")))", errno: ENOENT)
        }
        guard let table = program.usdtSpecifications else {
            throw KernelError(
                command: "\(what): program \(program.name ?? "?") has no \(USDTSpecification.mapName) map (include <bpf/usdt.bpf.h>)", errno: EINVAL)
        }
        let root = "/sys/bus/event_source/devices/uprobe"
        guard let type = readFirstLine(root + "/type").flatMap({ UInt32($0) }) else {
            throw KernelError(command: "\(what): this kernel has no uprobe PMU (\(root))", errno: ENOENT)
        }
        // "config:32-63": where the reference counter's offset goes.
        let shift = readFirstLine(root + "/format/ref_ctr_offset").flatMap { $0.split(separator: ":").last?.split(separator: "-").first.flatMap { Int32($0) } }
        var sites: [(perf: Descriptor, link: Descriptor)] = []
        for probe in probes {
            let id = try table.add(USDTSpecification.encode(probe.arguments, cookie: cookie), what: what)
            let counter = shift == nil ? 0 : probe.semaphoreFileOffset ?? 0
            let perf = cbpf_perf_event_open_uprobe(type, binary, probe.fileOffset, counter, shift ?? 0, process)
            guard perf >= 0 else { throw KernelError(command: "perf_event_open (\(what) at 0x\(String(probe.fileOffset, radix: 16)))", errno: -perf) }
            let link = cbpf_link_create_perf_event_cookie(program.fd, perf, UInt64(id))
            guard link >= 0 else {
                close(perf)
                throw KernelError(command: "BPF_LINK_CREATE (\(what), cookie \(id))", errno: -link)
            }
            sites.append((Descriptor(adopting: perf), Descriptor(adopting: link)))
        }
        self.sites = sites
    }
}

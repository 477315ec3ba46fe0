import BPFCore
import CBPFShims
import BPFPlatform

/// A program attached to a kprobe, kretprobe, uprobe or uretprobe: a perf event of the
/// kernel's dynamic `kprobe`/`uprobe` PMU and a bpf_link joining the program to it (or the
/// perf event's ioctl, see ``PerfEventAttachment``), as libbpf attaches them. Releasing the value detaches the program.
public final class ProbeLink: KernelLink {
    private let perf: Descriptor, link: Descriptor?
    /// The perf event's descriptor.
    public var perfFD: Int32 { perf.rawValue }
    /// The bpf_link's descriptor; nil when attached through the perf event's ioctl.
    public var linkFD: Int32? { link?.rawValue }
    public let summary: String

    /// Attaches `program` to the entry (or, with `isReturn`, the return) of kernel function
    /// `function`, `offset` bytes in.
    public convenience init(
        _ program: KernelProgram, kernelFunction function: String, offset: UInt64 = 0, isReturn: Bool = false,
        using mode: PerfEventAttachment = .automatic
    ) throws(KernelError) {
        try self.init(
            program, pmu: "kprobe", name: function, offset: offset, isReturn: isReturn, process: -1, mode: mode,
            what: "\(isReturn ? "kretprobe" : "kprobe") \(function)")
    }

    /// Attaches `program` to the entry (or return) of `symbol` in the executable or shared
    /// library at `binary` — or to `offset` bytes into the file when `symbol` is nil — in
    /// process `process` or, with -1, in every process that runs it.
    public convenience init(
        _ program: KernelProgram, binary: String, symbol: String?, offset: UInt64 = 0,
        isReturn: Bool = false, process: Int32 = -1, using mode: PerfEventAttachment = .automatic
    ) throws(KernelError) {
        let binary = HostSymbols.resolve(binary)
        var fileOffset = offset
        if let symbol {
            do { fileOffset += try HostSymbols.fileOffset(of: symbol, in: binary) } catch {
                throw KernelError(command: "uprobe \(binary):\(symbol) (\(error.message))", errno: ENOENT)
            }
        }
        try self.init(
            program, pmu: "uprobe", name: binary, offset: fileOffset, isReturn: isReturn, process: process, mode: mode,
            what: "\(isReturn ? "uretprobe" : "uprobe") \(binary):\(symbol ?? "0x" + String(offset, radix: 16))")
    }

    private init(
        _ program: KernelProgram, pmu: String, name: String, offset: UInt64, isReturn: Bool, process: Int32,
        mode: PerfEventAttachment, what: String
    ) throws(KernelError) {
        summary = what
        let root = "/sys/bus/event_source/devices/\(pmu)"
        guard let type = readFirstLine(root + "/type").flatMap({ UInt32($0) }) else {
            throw KernelError(command: "\(what): this kernel has no \(pmu) PMU (\(root))", errno: ENOENT)
        }
        // The retprobe bit, "config:N" in the PMU's format.
        let bit = readFirstLine(root + "/format/retprobe").flatMap { $0.split(separator: ":").last.flatMap { Int32($0) } } ?? 0
        (perf, link) = try linkPerfEvent(cbpf_perf_event_open_probe(type, bit, isReturn ? 1 : 0, name, offset, process), to: program, what: what, mode: mode)
    }

}

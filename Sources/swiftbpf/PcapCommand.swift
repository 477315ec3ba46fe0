import BPFCore
import BPFPacket
import BPFPlatform
import SwiftBPF

/// `swiftbpf pcap`: a packet program over every packet of a capture file.
struct PcapCommand {
    static let spec = CommandSpec(
        "pcap",
        abstract: "Run an XDP, tc or socket-filter program, or a tcpdump filter, over a capture file.",
        discussion: """
            swiftbpf pcap OBJ.o IN.pcap runs the object's program (--program when it has several) over \
            every packet of a pcap or pcapng file of Ethernet packets, in the userspace runtime or with \
            --kernel through BPF_PROG_TEST_RUN, and prints the count of packets and bytes per verdict \
            (XDP_*, TC_ACT_*, or accepted and rejected for a socket filter), the redirect targets the \
            userspace runtime recorded, the program's maps afterwards (decoded with the object's BTF) and \
            the packets per second. swiftbpf pcap --filter 'tcp port 80' IN.pcap runs a tcpdump filter \
            (compiled by libpcap to classic BPF, checked as the kernel checks it and translated to eBPF \
            as the kernel translates it); --cbpf FILE runs a classic program in tcpdump -ddd form. With \
            --out-dir, the packets of each verdict (as the program left them) go to VERDICT.pcap there, \
            with their timestamps.
            """,
        parameters: [
            .arguments("files", "OBJ.o IN.pcap, or IN.pcap with --filter or --cbpf."),
            .option("filter", "A tcpdump filter expression to run instead of an object's program."),
            .option("cbpf", "A classic BPF program (tcpdump -ddd output) to run instead of an object's program."),
            .option("program", "In an object with several programs, the one to run."),
            .option("out-dir", "Write each verdict's packets to VERDICT.pcap in this folder."),
            .option("engine", "checked, interpreter or jit (default: jit where the host has it)."),
            .flag("kernel", "Run in the kernel through BPF_PROG_TEST_RUN."),
        ]
    ) { try PcapCommand($0).run() }

    var files: [String]
    var filter: String?
    var cbpf: String?
    var program: String?
    var outDirectory: String?
    var engine: ExecutionMode?
    var kernel: Bool

    init(_ arguments: ParsedArguments) throws(UsageError) {
        files = arguments.arguments("files")
        filter = arguments.string("filter")
        cbpf = arguments.string("cbpf")
        program = arguments.string("program")
        outDirectory = arguments.string("out-dir")
        engine = try arguments.engine()
        kernel = arguments.flag("kernel")
    }

    /// What runs each packet: its verdict's name, the packet as the program left it (the bytes
    /// kept, for filters) and where it was redirected.
    typealias Runner = ([UInt8]) throws -> (verdict: String, packet: [UInt8], redirect: RedirectTarget?)

    func run() throws {
        let classic = filter != nil || cbpf != nil
        guard files.count == (classic ? 1 : 2) else {
            throw CLIError(classic ? "pcap: with --filter or --cbpf, give the capture file alone" : "pcap: give OBJ.o and IN.pcap (or --filter EXPR IN.pcap)")
        }
        guard filter == nil || cbpf == nil else { throw CLIError("pcap: --filter and --cbpf are two programs; give one") }
        if classic, program != nil { throw CLIError("pcap: --program names a program of an object, not of a filter") }
        if kernel, engine != nil { throw CLIError("pcap: --engine chooses the userspace engine; --kernel runs in the kernel") }
        if kernel, let reason = KernelSupport.unavailableReason { throw CLIError("pcap --kernel: \(reason)") }
        let inputPath = files[files.count - 1]
        guard let input = readFile(inputPath) else { throw CLIError("\(inputPath): cannot read the file") }
        let capture: PacketCapture
        do { capture = try PacketCapture.read(input) } catch { throw CLIError("\(inputPath): \(error)") }
        guard capture.linkType == PacketCapture.ethernet else {
            throw CLIError("\(inputPath): link type \(capture.linkType) (\(Self.linkTypeName(capture.linkType))): only Ethernet captures (1) are run")
        }
        guard !capture.packets.isEmpty else { throw CLIError("\(inputPath): the capture holds no packets") }
        let (runner, engineName, finish) = classic ? try classicRunner() : try objectRunner(files[0])

        var counts: [String: (packets: Int, bytes: Int)] = [:]
        var redirects: [String: Int] = [:]
        var written: [String: [PacketCapture.Packet]] = [:]
        let start = monotonicNanoseconds()
        for (i, packet) in capture.packets.enumerated() {
            let (verdict, output, redirect) = try runner(packet.data)
            counts[verdict, default: (0, 0)].packets += 1
            counts[verdict, default: (0, 0)].bytes += output.count
            if let redirect { redirects["\(redirect)", default: 0] += 1 }
            if outDirectory != nil {
                // A filter keeps a prefix of the packet (its length on the wire stays); a program
                // that rewrote the packet made a new one.
                let filtered = verdict == "accepted" || verdict == "rejected"
                let length = filtered ? packet.originalLength : output.count
                written[verdict, default: []].append(PacketCapture.Packet(timestamp: packet.timestamp, data: output, originalLength: length))
            }
            if (i + 1) % 100_000 == 0 { printError("… \(i + 1) of \(capture.packets.count) packets") }
        }
        let seconds = Double(monotonicNanoseconds() - start) / 1e9
        for verdict in counts.keys.sorted() {
            let (packets, bytes) = counts[verdict]!
            print("\(verdict): \(packets) packet\(packets == 1 ? "" : "s"), \(bytes) bytes")
        }
        for (target, count) in redirects.sorted(by: { $0.key < $1.key }) { print("redirected to \(target): \(count)") }
        if let outDirectory {
            if mkdir(outDirectory, 0o755) != 0, errno != EEXIST { throw CLIError("\(outDirectory): cannot create the folder (\(Errno(rawValue: errno)))") }
            for (verdict, packets) in written {
                let path = outDirectory + "/" + verdict + ".pcap"
                let bytes = PacketCapture.pcapBytes(packets: packets, linkType: capture.linkType, snapLength: capture.snapLength)
                guard writeFile(path, bytes) else { throw CLIError("\(path): cannot write the file") }
            }
        }
        try finish()
        let rate = seconds > 0 ? Double(capture.packets.count) / seconds : 0
        print("\(capture.packets.count) packets in \(format1(seconds * 1000)) ms: \(Int(rate)) packets/s (\(engineName))")
    }

    /// A tcpdump filter or classic program, translated to eBPF and run as a tc classifier (whose
    /// packets start at their Ethernet header, as a packet socket's do): a nonzero result keeps
    /// that many bytes.
    private func classicRunner() throws -> (Runner, String, () throws -> Void) {
        let program: ClassicProgram
        do {
            if let filter {
                program = try FilterCompiler.compile(filter)
            } else {
                guard let path = cbpf, let bytes = readFile(path) else { throw CLIError("\(cbpf ?? ""): cannot read the file") }
                program = try ClassicProgram(text: String(decoding: bytes, as: UTF8.self))
            }
        } catch let error as PacketCaptureError {
            throw CLIError("\(error)")
        }
        let code = program.ebpf
        let run: ([UInt8]) throws -> UInt32
        let engineName: String
        if kernel {
            let loaded = try KernelProgram(type: .schedCLS, instructions: code)
            run = { try loaded.testRun(data: $0).returnValue }
            engineName = "kernel"
        } else {
            let loaded = try UserspaceProgram.load(instructions: code, type: .schedCLS, name: "filter")
            let mode = engine ?? loaded.defaultMode
            run = { try loaded.testRun(data: $0, mode: mode).returnValue }
            engineName = mode.name
        }
        let runner: Runner = { packet in
            let kept = Int(min(UInt32(packet.count), try run(packet)))
            return kept > 0 ? ("accepted", Array(packet.prefix(kept)), nil) : ("rejected", packet, nil)
        }
        return (runner, engineName, {})
    }

    /// An object's XDP, tc or socket-filter program on either backend; afterwards its maps.
    private func objectRunner(_ path: String) throws -> (Runner, String, () throws -> Void) {
        let object = try OpenedObject(path: path)
        let loaded = try object.load(on: kernel ? .kernel : .userspace)
        let program = try loaded.program(named: program)
        let type = program.type
        guard [.xdp, .schedCLS, .schedACT, .socketFilter].contains(type) else {
            throw CLIError("\(path): program \(program.name) is a \(type) program; pcap runs XDP, tc and socket-filter programs")
        }
        let userspace = program.userspaceProgram
        let mode = userspace.map { engine ?? $0.defaultMode }
        let runner: Runner = { packet in
            let result = try userspace.map { try $0.testRun(data: packet, mode: mode) } ?? program.testRun(data: packet, repeat: 1)
            let verdict = Self.verdictName(result.returnValue, type)
            if type == .socketFilter {
                let kept = Int(min(UInt32(packet.count), result.returnValue))
                return (verdict, Array(packet.prefix(kept)), nil)
            }
            return (verdict, result.data, result.redirect)
        }
        let finish = {
            for map in loaded.maps where map.shape.type != .ringbuf && map.shape.type != .perfEventArray {
                let definition = object.file.maps.first { $0.name == map.name }
                let keys = try map.keys()
                print("map \(map.name) (\(map.shape.type), \(keys.count) entr\(keys.count == 1 ? "y" : "ies")):")
                var zeros = 0
                for key in keys {
                    guard let value = try map.lookup(key) else { continue }
                    // An array's untouched elements are many and say nothing: counted, not listed.
                    if map.shape.type == .array || map.shape.type == .percpuArray, value.allSatisfy({ $0 == 0 }) {
                        zeros += 1
                        continue
                    }
                    print(
                        "  " + Self.decoded(key, definition?.keyTypeID, object.file.btf) + ": " + Self.decoded(value, definition?.valueTypeID, object.file.btf))
                }
                if zeros > 0 { print("  (\(zeros) more, all zero)") }
            }
        }
        return (runner, mode?.name ?? "kernel", finish)
    }

    private static func decoded(_ bytes: [UInt8], _ type: UInt32?, _ btf: BTF?) -> String {
        guard let btf, let type, type != 0 else { return hexString(bytes) }
        return btf.json(bytes, type: type)
    }

    /// The kernel's name for a program's result.
    static func verdictName(_ value: UInt32, _ type: ProgramType) -> String {
        switch type {
        case .xdp:
            let names = ["XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT"]
            return Int(value) < names.count ? names[Int(value)] : "XDP_\(value)"
        case .socketFilter: return value == 0 ? "rejected" : "accepted"
        default:
            let names = ["TC_ACT_OK", "TC_ACT_RECLASSIFY", "TC_ACT_SHOT", "TC_ACT_PIPE", "TC_ACT_STOLEN", "TC_ACT_QUEUED", "TC_ACT_REPEAT", "TC_ACT_REDIRECT"]
            if Int32(bitPattern: value) == -1 { return "TC_ACT_UNSPEC" }
            return Int(value) < names.count ? names[Int(value)] : "TC_ACT_\(Int32(bitPattern: value))"
        }
    }

    static func linkTypeName(_ type: UInt32) -> String {
        [0: "BSD loopback", 101: "raw IP", 113: "Linux cooked", 127: "802.11 radiotap", 276: "Linux cooked v2"][type] ?? "not Ethernet"
    }
}

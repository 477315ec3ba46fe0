import BPFCore
import BPFKernel
import BPFObject
import BTF
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SwiftBPF

struct LoadCommand {
    static let spec = CommandSpec(
        "load",
        abstract: "Load every program of an object, attach what can be attached, and print what was created.",
        discussion: """
            With --kernel: creates the object's maps, loads each program into the running kernel \
            (CO-RE relocated against its BTF) and attaches it by its section name: tracepoints (tp/, \
            tracepoint/), raw tracepoints (raw_tp/, and tp_btf/ with BTF-typed arguments), kprobes \
            (kprobe/FUNC, kretprobe/FUNC), fentry/fexit/fmod_ret and lsm programs (their targets found \
            in the kernel's BTF), uprobes (uprobe/BINARY:FUNC, uretprobe/BINARY:FUNC), and with \
            --interface XDP (xdp) and tc classifiers \
            through tcx (tc, tcx/ingress, tcx/egress). It prints each map, program and link with its \
            kernel id, then holds them until Ctrl-C (or --duration), or with --pin DIR pins them all \
            under DIR and exits, leaving them loaded and attached. Without --kernel: verifies and \
            prepares each program in the userspace runtime and prints the verifier's figures.
            """,
        parameters: [
            .argument("object", "A clang-compiled BPF object (.o)."),
            .flag("kernel", "Load into the running kernel through bpf(2)."),
            .option("interface", "The network interface XDP and tc programs attach to."),
            .flag("netlink", "Attach XDP and tc programs through rtnetlink, not a bpf_link (what kernels before 5.9 and 6.6 need; used by itself there)."),
            .flag("no-attach", "Load (and with --pin, pin) without attaching anything, as bpftool prog loadall does."),
            .option("pin", "Pin maps, programs and links under this bpffs directory (made when absent) and exit; they stay loaded and attached."),
            .option("duration", "Detach and unload after this many seconds (default: at Ctrl-C)."),
        ]
    ) { try LoadCommand($0).run() }

    var object: String
    var kernel: Bool
    var interface: String?
    var netlink: Bool
    var noAttach: Bool
    var pin: String?
    var duration: Double?

    init(_ arguments: ParsedArguments) throws(UsageError) {
        object = arguments.argument("object")
        kernel = arguments.flag("kernel")
        interface = arguments.string("interface")
        netlink = arguments.flag("netlink")
        noAttach = arguments.flag("no-attach")
        pin = arguments.string("pin")
        duration = try arguments.value("duration")
    }

    func run() throws {
        guard let bytes = readFile(object) else { throw CLIError("\(object): cannot read the file") }
        let file: ObjectFile
        do { file = try ObjectFile(bytes: bytes) } catch { throw CLIError("\(object): \(error)") }
        // vmlinux's BTF (5 MB to parse) only for objects with CO-RE relocations to apply.
        let target = file.usesCORE ? vmlinuxBTF : nil
        if kernel { try loadIntoKernel(file, target: target) } else { try loadInUserspace(file, target: target) }
    }

    private func loadInUserspace(_ file: ObjectFile, target: BTF?) throws {
        let runtime: UserspaceObject
        do { runtime = try UserspaceObject(file) } catch { throw CLIError("\(object): \(error)") }
        for map in runtime.maps { print("map \(map.name): type \(map.shape.type) key \(map.shape.keySize)B value \(map.shape.valueSize)B max_entries \(map.shape.maxEntries)") }
        var failed = false
        for program in file.programs {
            do {
                let loaded = try runtime.load(program: program.name, target: target)
                let report = loaded.verification.map { "verified: \($0.processedInstructions) insns processed, \($0.totalStates) states" } ?? ""
                print("prog \(program.name): \(loaded.type) (\(program.section)), \(program.instructions.count) insns, \(report), runs on \(loaded.defaultMode)")
            } catch {
                print("prog \(program.name): not loaded: \(error)")
                failed = true
            }
        }
        if failed { throw ExitStatus(1) }
    }

    private func loadIntoKernel(_ file: ObjectFile, target: BTF?) throws {
        let loaded: KernelObject
        do { loaded = try KernelObject(file) } catch {
            // Whether bpf(2) may be used at all is probed only after a failure: a load that
            // works pays nothing for the probe.
            if let reason = KernelSupport.unavailableReason { throw CLIError("load --kernel: \(reason)") }
            throw CLIError("\(object): \(error)")
        }
        for map in loaded.maps {
            let info = Inventory.map(fd: map.fd)
            print("map \(info?.id ?? 0): \(map.definition.name)  type \(map.definition.type)  key \(map.definition.keySize)B  value \(map.definition.valueSize)B  max_entries \(map.definition.maxEntries)")
        }
        var programs: [LoadedProgram] = []
        var failed = false
        for program in file.programs {
            let kernelProgram: KernelProgram
            do {
                kernelProgram = try loaded.load(program: program.name, target: target)
            } catch {
                print("prog \(program.name): not loaded: \(error)")
                failed = true
                continue
            }
            let info = Inventory.program(fd: kernelProgram.fd)
            print("prog \(info?.id ?? 0): \(program.name)  \(kernelProgram.type) (\(program.section))  tag \(info?.tag ?? "?")  xlated \(info?.translatedBytes ?? 0)B  jited \(info?.jitedBytes ?? 0)B")
            var loadedProgram = LoadedProgram(name: program.name, program: kernelProgram)
            if !noAttach {
                do {
                    if let (link, fd, what) = try attach(kernelProgram, program) {
                        (loadedProgram.link, loadedProgram.linkFD) = (link, fd)
                        print("  link: \(what)")
                    }
                } catch {
                    print("  not attached: \(error)")
                    failed = true
                }
            }
            programs.append(loadedProgram)
        }
        if let pin {
            do {
                try Pinning.makeDirectory(pin)
                for map in loaded.maps { try map.pin(at: pin + "/" + map.definition.name) }
                for entry in programs {
                    try entry.program.pin(at: pin + "/" + entry.name)
                    guard let link = entry.link else { continue }
                    if let fd = entry.linkFD {
                        try Pinning.pin(fd, at: pin + "/" + entry.name + "_link")
                    } else if let link = link as? InterfaceLink {
                        link.leaveAttached()
                        print("  \(entry.name): attached through netlink, it stays until removed with ip or tc")
                    } else {
                        print("  \(entry.name): attached through the perf event ioctl (this kernel has no such link), which cannot be pinned: it ends with this command")
                    }
                }
            } catch {
                throw CLIError("--pin \(pin): \(error)")
            }
            print("pinned under \(pin): they stay loaded\(noAttach ? "" : " and attached") until their pins are removed")
        } else if !programs.isEmpty {
            print(duration.map { "holding for \($0) s" } ?? (noAttach ? "loaded; Ctrl-C unloads" : "attached; Ctrl-C detaches and unloads"))
            fflush(nil)
            waitForInterrupt(seconds: duration)
        }
        withExtendedLifetime((loaded, programs)) {}
        if failed { throw ExitStatus(1) }
    }

    /// A program loaded by this command, with the link that attaches it (and the link's fd,
    /// when the kernel gave it one) until the command ends or pins them.
    private struct LoadedProgram {
        var name: String
        var program: KernelProgram
        var link: AnyObject?
        var linkFD: Int32?
    }

    /// Attaches `program` where its section says, when this command can: the link, its fd
    /// and a description; nil for programs loaded but not attached.
    private func attach(_ program: KernelProgram, _ source: ObjectFile.Program) throws -> (AnyObject, Int32?, String)? {
        let target = source.kind?.attachTarget ?? ""
        switch program.type {
        case .tracepoint:
            let parts = target.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw CLIError("section '\(source.section)' names no tracepoint (tp/CATEGORY/NAME)") }
            let link = try TracepointLink(program, category: parts[0], name: parts[1])
            return (link, link.linkFD, "tracepoint \(target)")
        case .rawTracepoint:
            let link = try RawTracepointLink(program, name: target)
            return (link, link.fd, "raw tracepoint \(target)")
        case .tracing where ["fentry", "fexit", "fmod_ret", "tp_btf"].contains(where: { source.section.hasPrefix($0 + "/") }),
             .lsm where source.section.hasPrefix("lsm/"):
            let link = try RawTracepointLink(attaching: program)
            return (link, link.fd, "\(source.section.split(separator: "/")[0]) \(target)")
        case .kprobe where !target.isEmpty && ["kprobe", "kretprobe", "uprobe", "uretprobe"].contains(where: { source.section.hasPrefix($0 + "/") }):
            // kprobe/FUNCTION[+OFFSET], uprobe/BINARY:FUNCTION[+OFFSET], as libbpf names them.
            let isReturn = source.section.hasPrefix("kretprobe/") || source.section.hasPrefix("uretprobe/")
            func split(_ text: Substring) -> (String, UInt64) {
                let parts = text.split(separator: "+", maxSplits: 1)
                let offset = parts.count == 2 ? (parts[1].hasPrefix("0x") ? UInt64(parts[1].dropFirst(2), radix: 16) : UInt64(parts[1])) : 0
                return (String(parts.first ?? ""), offset ?? 0)
            }
            if source.section.hasPrefix("k") {
                let (function, offset) = split(Substring(target))
                let link = try ProbeLink(program, kernelFunction: function, offset: offset, isReturn: isReturn)
                return (link, link.linkFD, "\(isReturn ? "kretprobe" : "kprobe") \(target)")
            }
            guard let colon = target.lastIndex(of: ":") else { throw CLIError("section '\(source.section)' names no BINARY:FUNCTION") }
            let (function, offset) = split(target[target.index(after: colon)...])
            let link = try ProbeLink(program, binary: String(target[..<colon]), symbol: function.isEmpty ? nil : function, offset: offset, isReturn: isReturn)
            return (link, link.linkFD, "\(isReturn ? "uretprobe" : "uprobe") \(target)")
        case .xdp, .schedCLS:
            guard let interface else {
                print("  not attached: --interface names where \(program.type) programs attach")
                return nil
            }
            if program.type == .xdp {
                let link = try XDPLink(program, interface: interface, using: netlink ? .netlink : .automatic)
                return (link, link.fd, "xdp on \(interface)\(link.attachment == .netlink ? " (netlink)" : "")")
            }
            let direction: TCLink.Direction = source.section.hasSuffix("egress") ? .egress : .ingress
            let link = try TCLink(program, interface: interface, direction: direction, using: netlink ? .netlink : .automatic)
            return (link, link.fd, link.attachment == .netlink ? "tc \(direction) on \(interface) (netlink)" : "tcx \(direction) on \(interface)")
        default:
            print("  not attached: this command does not attach \(program.type) programs")
            return nil
        }
    }
}

/// Blocks until SIGINT or SIGTERM, or `seconds` when given.
func waitForInterrupt(seconds: Double?) {
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    sigprocmask(SIG_BLOCK, &set, nil)
    if let seconds {
        var timeout = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        _ = sigtimedwait(&set, nil, &timeout)
    } else {
        var signal: Int32 = 0
        sigwait(&set, &signal)
    }
}

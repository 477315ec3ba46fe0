import BPFCore
import BPFKernel
import BPFObject
import BTF
import BPFPlatform
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
            in the kernel's BTF), uprobes (uprobe/BINARY:FUNC, uretprobe/BINARY:FUNC), USDT probes \
            (usdt/BINARY:PROVIDER:NAME, or a bare usdt section with --probe), with --interface XDP (xdp) \
            and tc classifiers through tcx (tc, tcx/ingress, tcx/egress), and with --cgroup cgroup \
            programs (cgroup_skb/, cgroup/, sockops). It prints each map, program and link with its \
            kernel id, then holds them until Ctrl-C (or --duration), or with --pin DIR pins them all \
            under DIR and exits, leaving them loaded and attached. Without --kernel: verifies and \
            prepares each program in the userspace runtime and prints the verifier's figures.
            """,
        parameters: [
            .argument("object", "A clang-compiled BPF object (.o)."),
            .flag("kernel", "Load into the running kernel through bpf(2)."),
            .option("interface", "The network interface XDP and tc programs attach to."),
            .option("cgroup", "The cgroup (a cgroup v2 directory) cgroup programs attach to."),
            .option("probe", "The USDT probe (BINARY:PROVIDER:NAME) programs of a bare usdt section attach to."),
            .flag("netlink", "Attach XDP and tc programs through rtnetlink, not a bpf_link (what kernels before 5.9 and 6.6 need; used by itself there)."),
            .flag("no-attach", "Load (and with --pin, pin) without attaching anything, as bpftool prog loadall does."),
            .option("pin", "Pin maps, programs and links under this bpffs directory (made when absent) and exit; they stay loaded and attached."),
            .option("duration", "Detach and unload after this many seconds (default: at Ctrl-C)."),
        ]
    ) { try LoadCommand($0).run() }

    var object: String
    var kernel: Bool
    var interface: String?
    var cgroup: String?
    var probe: String?
    var netlink: Bool
    var noAttach: Bool
    var pin: String?
    var duration: Double?

    init(_ arguments: ParsedArguments) throws(UsageError) {
        object = arguments.argument("object")
        kernel = arguments.flag("kernel")
        interface = arguments.string("interface")
        cgroup = arguments.string("cgroup")
        probe = arguments.string("probe")
        netlink = arguments.flag("netlink")
        noAttach = arguments.flag("no-attach")
        pin = arguments.string("pin")
        duration = try arguments.value("duration")
        let kernelOnly: [(String, Bool)] = [
            ("interface", interface != nil), ("cgroup", cgroup != nil), ("probe", probe != nil), ("netlink", netlink), ("no-attach", noAttach),
            ("pin", pin != nil),
            ("duration", duration != nil),
        ]
        if !kernel, let (option, _) = kernelOnly.first(where: \.1) {
            throw UsageError(command: arguments.command, message: "--\(option) applies to --kernel: the userspace runtime only verifies and prepares here")
        }
    }

    func run() throws {
        guard let bytes = readFile(object) else { throw CLIError("\(object): cannot read the file") }
        let file: ObjectFile
        do { file = try ObjectFile(bytes: bytes) } catch { throw CLIError("\(object): \(error)") }
        // vmlinux's BTF (5 MB to parse) only for objects with CO-RE relocations to apply.
        let target = file.usesCORE ? BTF.vmlinux : nil
        if kernel { try loadIntoKernel(file, target: target) } else { try loadInUserspace(file, target: target) }
    }

    private func loadInUserspace(_ file: ObjectFile, target: BTF?) throws {
        let runtime: UserspaceObject
        do { runtime = try UserspaceObject(file) } catch { throw CLIError("\(object): \(error)") }
        for map in runtime.maps {
            print("map \(map.name): type \(map.shape.type) key \(map.shape.keySize)B value \(map.shape.valueSize)B max_entries \(map.shape.maxEntries)")
        }
        var failed = false
        for program in file.programs {
            do {
                let loaded = try runtime.load(program: program.name, target: target)
                let report = loaded.verification.map { "verified: \($0.processedInstructions) insns processed, \($0.totalStates) states" } ?? ""
                print(
                    "prog \(program.name): \(loaded.type) (\(program.section)), \(program.instructions.count) insns, \(report), runs on \(loaded.defaultMode.name)"
                )
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
            print(
                "map \(info?.id ?? 0): \(map.definition.name)  type \(map.definition.type)  key \(map.definition.keySize)B  value \(map.definition.valueSize)B  max_entries \(map.definition.maxEntries)"
            )
        }
        var programs: [KernelProgram] = [], links: [(program: String, link: any KernelLink)] = []
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
            print(
                "prog \(info?.id ?? 0): \(program.name)  \(kernelProgram.type) (\(program.section))  tag \(info?.tag ?? "?")  xlated \(info?.translatedBytes ?? 0)B  jited \(info?.jitedBytes ?? 0)B"
            )
            programs.append(kernelProgram)
            guard !noAttach else { continue }
            do {
                let link = try kernelProgram.attach(
                    AttachOptions(interface: interface, interfaceAttachment: netlink ? .netlink : .automatic, probe: probe, cgroup: cgroup))
                links.append((program.name, link))
                print("  link: \(link.summary)")
            } catch {
                print("  not attached: \(error.cannotAttachReason ?? error.description)")
                // A program this command does not attach is not a failure; a refused attachment is.
                if error.cannotAttachReason == nil { failed = true }
            }
        }
        if let pin {
            let outcomes: [(program: String, persistence: LinkPersistence)]
            do { outcomes = try loaded.pin(under: pin, programs: programs, links: links) } catch { throw CLIError("--pin \(pin): \(error)") }
            for (program, persistence) in outcomes {
                switch persistence {
                case .pinned: break
                case .leftAttached: print("  \(program): attached through netlink, it stays until removed with ip or tc")
                case .endsWithProcess:
                    print(
                        "  \(program): attached through the perf event ioctl (this kernel has no such link), which cannot be pinned: it ends with this command")
                }
            }
            print("pinned under \(pin): they stay loaded\(noAttach ? "" : " and attached") until their pins are removed")
        } else if !programs.isEmpty {
            print(duration.map { "holding for \($0) s" } ?? (noAttach ? "loaded; Ctrl-C unloads" : "attached; Ctrl-C detaches and unloads"))
            fflush(nil)
            waitForInterrupt(seconds: duration)
        }
        withExtendedLifetime((loaded, programs, links)) {}
        if failed { throw ExitStatus(1) }
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

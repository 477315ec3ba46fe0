import BPFCore
import BPFKernel
import BPFPlatform

enum ProgCommand {
    static let spec = CommandSpec(
        "prog", abstract: "Programs loaded in the kernel.",
        subcommands: [
            CommandSpec(
                "list", abstract: "List loaded programs, like bpftool prog list.",
                discussion:
                    "With --runtime PATH, the programs of an application that embeds the userspace runtime and opened a DebugEndpoint at PATH.",
                parameters: OutputFormat.parameters + [runtimeParameter]
            ) { arguments in
                if try askRuntime(arguments, "prog list") { return }
                try listPrograms(OutputFormat(arguments))
            },
            CommandSpec(
                "show", abstract: "Show one loaded program, like bpftool prog show id N.",
                discussion:
                    "The program is named as bpftool names it: id N, pinned PATH or name NAME. Run counts and time appear while the kernel counts them (sysctl kernel.bpf_stats_enabled=1).",
                parameters: selectorParameters + OutputFormat.parameters
            ) { arguments in
                let fd = try descriptor(0, arguments, "prog show")
                defer { close(fd) }
                guard let info = Inventory.program(fd: fd) else { throw CLIError("prog show: the kernel says nothing of the program") }
                let mapIDs = (try? Inventory.contents(fd: fd).mapIDs) ?? []
                let format = OutputFormat(arguments)
                if format.json { format.print(json(info, mapIDs: mapIDs)) } else { printText(info, mapIDs: mapIDs) }
            },
            CommandSpec(
                "pin", abstract: "Pin a program in bpffs, like bpftool prog pin id N PATH.",
                parameters: selectorParameters + [.argument("path", "Where to pin it.")]
            ) {
                arguments in
                let fd = try descriptor(0, arguments, "prog pin")
                defer { close(fd) }
                do { try Pinning.pin(fd, at: arguments.argument("path")) } catch { throw CLIError("prog pin: \(error)") }
            },
            CommandSpec(
                "dump", abstract: "Print a loaded program's instructions or native code, like bpftool prog dump xlated|jited.",
                discussion:
                    "swiftbpf prog dump xlated id N prints the instructions as the kernel keeps them (after its rewrites), in the kernel's verifier-log syntax, maps by id and helpers by the kernel's names, each function's prototype and each C source line from the program's BTF, as bpftool prints them. swiftbpf prog dump jited id N prints the kernel JIT's native code, decoded by LLVM's disassembler (Intel syntax, as swiftbpf disasm --jited), each function under its kernel symbol, with the same source lines. With --opcodes, each instruction's bytes too.",
                parameters: [.argument("what", "xlated or jited.")] + selectorParameters + [.flag("opcodes", "Print each instruction's bytes too.")]
                    + OutputFormat.parameters
            ) { try ProgramDump($0).run() },
            CommandSpec(
                "stats", abstract: "Turn counting of programs' runs and run time on or off.",
                discussion:
                    "In the kernel, the sysctl kernel.bpf_stats_enabled (what BPF_ENABLE_STATS holds while its descriptor is open); prog show then has run_time_ns and run_cnt. With --runtime PATH, in an application embedding the userspace runtime (its DebugEndpoint holds a StatisticsToken until stats off); prog list --runtime PATH then shows them.",
                parameters: [.argument("state", "on or off."), runtimeParameter]
            ) { arguments in
                let state = arguments.argument("state")
                guard state == "on" || state == "off" else { throw UsageError(command: arguments.command, message: "'\(state)' is not on or off") }
                if try askRuntime(arguments, "stats \(state)") { return }
                let sysctl = "/proc/sys/kernel/bpf_stats_enabled"
                guard writeFile(sysctl, Array((state == "on" ? "1\n" : "0\n").utf8)) else {
                    throw CLIError("prog stats: cannot write \(sysctl) (\(KernelSupport.unavailableReason ?? "needs root"))")
                }
                print("statistics \(state)")
            },
        ])

    static func listPrograms(_ format: OutputFormat) throws {
        if let reason = KernelSupport.unavailableReason { throw CLIError("prog list: \(reason)") }
        let programs = try Inventory.programs()
        if format.json {
            format.print("[" + programs.map { json($0, mapIDs: nil) }.joined(separator: ",") + "]")
            return
        }
        for p in programs { printText(p, mapIDs: nil) }
    }

    private static func printText(_ p: Inventory.ProgramInfo, mapIDs: [UInt32]?) {
        print("\(p.id): \(p.type.map { "\($0)" } ?? "unknown")  name \(p.name.isEmpty ? "-" : p.name)  tag \(p.tag)\(p.gplCompatible ? "  gpl" : "")")
        var second = "\tloaded_at \(loadedAt(p))  uid \(p.createdByUID)"
        if p.runCount > 0 { second += "  run_time_ns \(p.runTimeNanoseconds)  run_cnt \(p.runCount)" }
        print(second)
        var third = "\txlated \(p.translatedBytes)B  jited \(p.jitedBytes)B"
        if let mapIDs, !mapIDs.isEmpty { third += "  map_ids \(mapIDs.map(String.init).joined(separator: ","))" }
        if p.btfID != 0 { third += "  btf_id \(p.btfID)" }
        print(third)
    }

    /// bpftool's JSON object for a program.
    static func json(_ p: Inventory.ProgramInfo, mapIDs: [UInt32]?) -> String {
        var fields: [(String, String)] = [
            ("id", "\(p.id)"), ("type", JSON.string(p.type.map { "\($0)" } ?? "unknown")), ("name", JSON.string(p.name)), ("tag", JSON.string(p.tag)),
            ("gpl_compatible", "\(p.gplCompatible)"),
        ]
        if p.runCount > 0 { fields += [("run_time_ns", "\(p.runTimeNanoseconds)"), ("run_cnt", "\(p.runCount)")] }
        fields += [
            ("loaded_at", "\(loadedAt(p))"), ("uid", "\(p.createdByUID)"), ("bytes_xlated", "\(p.translatedBytes)"), ("jited", "\(p.jitedBytes > 0)"),
            ("bytes_jited", "\(p.jitedBytes)"),
        ]
        if let mapIDs { fields.append(("map_ids", "[" + mapIDs.map(String.init).joined(separator: ",") + "]")) }
        if p.btfID != 0 { fields.append(("btf_id", "\(p.btfID)")) }
        return JSON.object(fields)
    }

    /// The load time as seconds since the epoch (the kernel counts from boot).
    private static func loadedAt(_ p: Inventory.ProgramInfo) -> Int {
        var now = timespec(), boot = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        clock_gettime(CLOCK_BOOTTIME, &boot)
        let bootNanoseconds = (Int(now.tv_sec) - Int(boot.tv_sec)) * 1_000_000_000 + (Int(now.tv_nsec) - Int(boot.tv_nsec))
        return (bootNanoseconds + Int(p.loadTime)) / 1_000_000_000
    }
}

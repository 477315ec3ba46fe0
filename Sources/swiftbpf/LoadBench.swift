import BPFBenchmarks
import BPFCore
import BPFKernel
import BPFObject
import Foundation

extension BenchCommand {
    /// Time to load each object into the kernel — its maps created, every program loaded —
    /// ours beside libbpf's and `bpftool prog loadall`'s on the same object, best of `rounds`.
    /// The libraries are timed in-process (ours here, libbpf's `bpf_object__open_file` and
    /// `bpf_object__load` in a small C program), which is the fair comparison; both tools also
    /// run as the processes users start (`swiftbpf load OBJ --kernel --pin DIR` against
    /// `bpftool prog loadall OBJ DIR`), each paying its own start-up, with bpftool's bare
    /// start-up (`bpftool version`) for scale.
    func benchLoading() throws {
        let candidates: [String] = ["/usr/sbin/bpftool", "/usr/bin/bpftool", "/sbin/bpftool"]
        guard let bpftool = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            print("loading: skipped: bpftool is not installed")
            return
        }
        guard BPFCompiler.unavailableReason == nil else {
            print("loading: skipped: no clang to compile the objects")
            return
        }
        var sources = ["alu", "checksum", "flow", "maps"].map { (name: $0, path: benchDir + "/\($0).bpf.c") }
        if let monitor = Bundle.module.path(forResource: "exec_monitor.bpf", ofType: "c") { sources.append(("exec", monitor)) }
        let ourTool = CommandLine.arguments[0]
        let pins = Pinning.root + "/swiftbpf-bench-\(getpid())"
        func wallMilliseconds(_ arguments: [String]) throws -> Double {
            try? FileManager.default.removeItem(atPath: pins)
            mkdir(pins, 0o700)
            defer { try? FileManager.default.removeItem(atPath: pins) }
            // posix_spawn and waitpid: Foundation's Process waits in steps of tens of ms.
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
            var argv = arguments.map { strdup($0) } + [nil]
            defer { for a in argv { free(a) } }
            var pid: pid_t = 0, status: Int32 = 0
            let start = DispatchTime.now().uptimeNanoseconds
            guard posix_spawn(&pid, arguments[0], &actions, nil, &argv, environ) == 0 else { throw CLIError("cannot start \(arguments[0])") }
            waitpid(pid, &status, 0)
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            guard status == 0 else { throw CLIError("\(arguments.joined(separator: " ")) failed") }
            return elapsed
        }
        let startup = try best { try wallMilliseconds([bpftool, "version"]) }
        let libbpf = try libbpfPeer("libbpf_load")
        defer { if let libbpf { try? FileManager.default.removeItem(atPath: libbpf) } }

        print("loading    ours (library) ms   libbpf (library) ms   ours/libbpf   bpftool loadall less start-up ms   swiftbpf load process ms   bpftool loadall process ms")
        for source in sources where access(source.path, R_OK) == 0 {
            let bytes = try BPFCompiler.compile(source.path)
            let path = NSTemporaryDirectory() + "swiftbpf-bench-\(source.name).o"
            guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { throw CLIError("cannot write \(path)") }
            defer { try? FileManager.default.removeItem(atPath: path) }
            let library = try best {
                let start = DispatchTime.now().uptimeNanoseconds
                let object = try ObjectFile(bytes: bytes)
                let loaded = try KernelObject(object)
                let programs = try object.programs.map { try loaded.load(program: $0.name, target: object.usesCORE ? vmlinuxBTF : nil) }
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                withExtendedLifetime(programs) {}
                return elapsed
            }
            let ours = try best { try wallMilliseconds([ourTool, "load", path, "--kernel", "--pin", pins]) }
            let theirs = try best { try wallMilliseconds([bpftool, "prog", "loadall", path, pins]) }
            let theirLoad = max(theirs - startup, 0.001)
            var libbpfColumns = pad("-", 21) + " " + pad("-", 13)
            if let libbpf, let output = try referenceToolOutput(libbpf, [path, String(rounds)]), let nanoseconds = Double(output.trimmingCharacters(in: .whitespacesAndNewlines)) {
                libbpfColumns = pad(format2(nanoseconds / 1e6), 21) + " " + pad(format2(library / (nanoseconds / 1e6)) + "x", 13)
            }
            print(pad(source.name, 10) + " " + pad(format2(library), 19) + " " + libbpfColumns + " " + pad(format2(theirLoad), 33) + " "
                  + pad(format2(ours), 26) + " " + format2(theirs))
        }
        print("(bpftool's start-up, bpftool version: \(format2(startup)) ms; the process columns include each tool's start-up)")
    }
}

import BPFBenchmarks
import BPFPlatform
import SwiftBPF

enum TraceCommand {
    static let spec = CommandSpec("trace", abstract: "Trace events on this machine with eBPF programs in the kernel.", subcommands: [Exec.spec])

    struct Exec {
        static let spec = CommandSpec(
            "exec",
            abstract: "Print PID, UID, COMM and FILENAME for every execve on the machine, until Ctrl-C.",
            discussion: """
                Loads the exec monitor (compiled with clang from the source the tool ships, or --object), \
                attaches it to the syscalls/sys_enter_execve tracepoint and reads its ring buffer. \
                Needs root (or CAP_BPF and CAP_PERFMON). --source prints the monitor's C source.
                """,
            parameters: [
                .option("object", "A compiled exec monitor object to use instead of compiling the shipped source."),
                .option("count", "Stop after this many events."),
                .option("duration", "Stop after this many seconds."),
                .flag("source", "Print the exec monitor's C source and exit."),
            ]
        ) { try Exec($0).run() }

        var object: String?
        var count: Int?
        var duration: Double?
        var source: Bool

        init(_ arguments: ParsedArguments) throws(UsageError) {
            object = arguments.string("object")
            count = try arguments.value("count")
            duration = try arguments.value("duration")
            source = arguments.flag("source")
        }

        func run() throws {
            if source {
                print(ExecMonitor.source, terminator: "")
                return
            }
            if let reason = KernelSupport.unavailableReason { throw CLIError("trace exec: \(reason)") }
            let bytes: [UInt8]
            if let object {
                guard let contents = readFile(object) else { throw CLIError("\(object): cannot read the file") }
                bytes = contents
            } else {
                if let reason = BPFCompiler.unavailableReason { throw CLIError("trace exec: cannot compile the exec monitor: \(reason); pass --object") }
                bytes = try ExecMonitor.compile()
            }
            // The object through the tool's skeleton (ExecMonitorSkeleton.swift, generated from
            // the shipped source with `gen skeleton --no-embed`): its event typed, checked first.
            let monitor: ExecMonitorSkeleton.Loaded, links: [any BPFLink], events: MapEvents<ExecMonitorSkeleton.ExecEvent>
            do {
                let skeleton = try ExecMonitorSkeleton(objectBytes: bytes)
                let mismatches = skeleton.layoutMismatches()
                guard mismatches.isEmpty else {
                    throw CLIError("trace exec: the object's exec_event is not the tool's: \(mismatches.joined(separator: "; "))")
                }
                monitor = try skeleton.load(on: .kernel)
                links = try monitor.attachAll()
                events = try monitor.eventsRecords()
            } catch let error as CLIError {
                throw error
            } catch {
                throw CLIError("trace exec: \(error)")
            }
            print(pad("PID", 8) + pad("UID", 8) + pad("COMM", 17) + "FILENAME")
            var seen = 0
            let deadline = duration.map { monotonicNanoseconds() + UInt64($0 * 1e9) }
            while count.map({ seen < $0 }) ?? true, deadline.map({ monotonicNanoseconds() < $0 }) ?? true {
                _ = events.wait(milliseconds: 200)
                for event in events.drain(limit: count.map { $0 - seen } ?? .max) {
                    print(pad("\(event.pid)", 8) + pad("\(event.uid)", 8) + pad(event.commString, 17) + event.filenameString)
                    seen += 1
                }
                fflush(nil)  // every stream: events appear as they happen, even through a pipe
            }
            withExtendedLifetime((monitor, links)) {}
        }
    }
}

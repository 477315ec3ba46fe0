import BPFBenchmarks
import BPFCore
import BPFKernel
import BPFObject
import BPFPlatform

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
            let loaded: KernelObject, link: TracepointLink, events: KernelRingBuffer
            do {
                loaded = try KernelObject(try ObjectFile(bytes: bytes))
                let program = try loaded.load()
                link = try TracepointLink(program, category: "syscalls", name: "sys_enter_execve")
                guard let ring = loaded.maps.first(where: { $0.definition.type == .ringbuf }) else { throw CLIError("the object has no ring buffer") }
                events = try KernelRingBuffer(ring)
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
                events.consume { record in
                    guard record.count >= ExecMonitor.recordSize, count.map({ seen < $0 }) ?? true else { return }
                    func text(_ range: Range<Int>) -> String { String(decoding: record[range].prefix { $0 != 0 }, as: UTF8.self) }
                    print(
                        pad("\(record.load(as: UInt32.self))", 8) + pad("\(record.load(fromByteOffset: 4, as: UInt32.self))", 8)
                            + pad(text(8..<24), 17) + text(24..<ExecMonitor.recordSize))
                    seen += 1
                }
                fflush(nil)  // every stream: events appear as they happen, even through a pipe
            }
            withExtendedLifetime((loaded, link)) {}
        }
    }
}

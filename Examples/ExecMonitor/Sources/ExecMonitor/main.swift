// Prints PID UID COMM FILENAME for every execve on the machine, through the exec monitor's
// generated skeleton (ExecMonitor, from bpf/exec_monitor.bpf.c): usage: ExecMonitor [SECONDS].
// With --record FILE, runs the same program in the userspace runtime on a sys_enter_execve
// record of this process executing FILE instead, and prints its event.
import SwiftBPF

if let i = CommandLine.arguments.firstIndex(of: "--record"), i + 1 < CommandLine.arguments.count {
    let monitor = try ExecMonitor().load(on: .userspace)
    let file = Array(CommandLine.arguments[i + 1].utf8CString).map { UInt8(bitPattern: $0) }
    try file.withUnsafeBytes { file in
        var record = [UInt8](repeating: 0, count: 64)  // common fields, syscall number, args[6]
        withUnsafeBytes(of: UInt64(UInt(bitPattern: file.baseAddress)).littleEndian) { record.replaceSubrange(16..<24, with: $0) }
        _ = try monitor.program(.execMonitor).userspaceProgram?.run(record: record, readable: [file])  // the filename is lent
    }
    for event in try monitor.eventsRecords(as: ExecMonitor.ExecEvent.self).drain() {
        print("\(event.pid) \(event.uid) \(event.commString) \(event.filenameString)")
    }
} else {
    let seconds = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 5
    let monitor = try ExecMonitor().load(on: .kernel)
    let links = try monitor.attachAll()
    let events = try monitor.eventsRecords(as: ExecMonitor.ExecEvent.self)
    print("PID     UID     COMM             FILENAME")
    let reader = Task {
        for await event in events {
            print("\(event.pid)".padding(8) + "\(event.uid)".padding(8) + event.commString.padding(17) + event.filenameString)
        }
    }
    try await Task.sleep(nanoseconds: UInt64(seconds) * 1_000_000_000)
    reader.cancel()
    _ = await reader.value
    _ = links
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}

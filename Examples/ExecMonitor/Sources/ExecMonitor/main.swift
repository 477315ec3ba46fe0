// Prints PID UID COMM FILENAME for every execve on the machine, through the exec monitor's
// generated skeleton (ExecMonitor, from bpf/exec_monitor.bpf.c): usage: ExecMonitor [SECONDS]
import SwiftBPF

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

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}

// Serves 20 requests through the probe site probehost:request while the requests program
// (its skeleton: Requests) traces it, in this process or, with --kernel, from the kernel through
// the site's USDT note; prints the sampled requests and the totals. Usage: ProbeHost [--kernel]
import RequestProbe
import SwiftBPF

let backend: Backend = CommandLine.arguments.contains("--kernel") ? .kernel : .userspace
// The site as a hook of this process's runtime, its third argument a string lent to programs.
_ = try UserspaceRuntime.shared.declareProbe(probehost_request_probe_site(), arguments: [.value, .value, .string])
let requests = try Requests().load(on: backend)
let link = try requests.program(.onRequest).attach(AttachOptions(probe: "/proc/self/exe:probehost:request"))
let samples = try requests.samplesRecords(as: Requests.RequestSample.self)
let reader = Task {
    for await sample in samples { print("sample: request \(sample.id), \(sample.size) bytes, \(sample.pathString)") }
}
for id in 1...20 { "/pages/\(id).html".withCString { serve_request(UInt64(id), UInt64(100 * id), $0) } }
try await Task.sleep(nanoseconds: 300_000_000)
reader.cancel()
_ = await reader.value
let totals = try requests.totals.lookup(0)
print("\(backend): \(totals?.requests ?? 0) requests, \(totals?.bytes ?? 0) bytes (\(link.summary))")

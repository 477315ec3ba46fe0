import BPFCore
import BPFKernel
import BPFPlatform
import BPFRuntime

/// `-j` (JSON) and `-p` (pretty JSON) as bpftool takes them: one JSON document a command.
struct OutputFormat {
    var json: Bool
    var pretty: Bool

    static let parameters: [Parameter] = [
        .flag("json", short: "j", "Print one JSON document, with bpftool's field names."),
        .flag("pretty", short: "p", "Print the JSON document indented (implies --json)."),
    ]

    init(_ arguments: ParsedArguments) {
        pretty = arguments.flag("pretty")
        json = pretty || arguments.flag("json")
    }

    /// Prints `value` (JSON text) when JSON was asked for, indented with `-p`.
    func print(_ value: String) { Swift.print(pretty ? JSON.indented(value) : value) }
}

/// The object named by `id N`, `pinned PATH` or `name NAME`, as a file descriptor.
func descriptor(_ kind: Int32, _ arguments: ParsedArguments, _ command: String) throws -> Int32 {
    if let reason = KernelSupport.unavailableReason { throw CLIError("\(command): \(reason)") }
    do { return try Inventory.descriptor(kind: kind, selector: arguments.argument("how"), arguments.argument("which")) } catch {
        throw CLIError("\(command): \(error)")
    }
}

let selectorParameters: [Parameter] = [
    .argument("how", "id, pinned or name."), .argument("which", "The id, the pinned path or the name."),
]

/// `--runtime PATH`: ask an embedded userspace runtime's debug endpoint instead of the kernel.
let runtimeParameter = Parameter.option("runtime", "The debug endpoint (a Unix socket) of an application embedding the userspace runtime.")

/// Prints what the runtime at `--runtime` answers to `request`; false when the option is absent.
func askRuntime(_ arguments: ParsedArguments, _ request: String) throws -> Bool {
    guard let path = arguments.string("runtime") else { return false }
    let format = OutputFormat(arguments)
    let answer: String
    do { answer = try DebugEndpoint.request(request + (format.json ? " -j" : ""), at: path) } catch { throw CLIError("\(request): \(error)") }
    if answer.hasPrefix("error: ") { throw CLIError("\(request): the runtime answered: \(answer.dropFirst(7).dropLast())") }
    if format.json { format.print(String(answer.dropLast())) } else { print(answer, terminator: "") }
    return true
}

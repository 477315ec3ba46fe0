import BPFKernel
import BPFPlatform

enum LinkCommand {
    static let spec = CommandSpec(
        "link", abstract: "Links in the kernel (programs attached to hooks).",
        subcommands: [
            CommandSpec(
                "list", abstract: "List links, like bpftool link list.",
                discussion: "With --runtime PATH, the hook links of an application that embeds the userspace runtime and opened a DebugEndpoint at PATH.",
                parameters: OutputFormat.parameters + [runtimeParameter]
            ) { arguments in
                if try askRuntime(arguments, "link list") { return }
                if let reason = KernelSupport.unavailableReason { throw CLIError("link list: \(reason)") }
                let links = try Inventory.links()
                let format = OutputFormat(arguments)
                if format.json { format.print("[" + links.map(json).joined(separator: ",") + "]") } else { links.forEach(printText) }
            },
            CommandSpec(
                "show", abstract: "Show one link, like bpftool link show id N (or pinned PATH).", parameters: selectorParameters + OutputFormat.parameters
            ) {
                arguments in
                let fd = try descriptor(2, arguments, "link show")
                defer { close(fd) }
                guard let info = Inventory.link(fd: fd) else { throw CLIError("link show: the kernel says nothing of the link") }
                let format = OutputFormat(arguments)
                if format.json { format.print(json(info)) } else { printText(info) }
            },
            CommandSpec(
                "pin", abstract: "Pin a link in bpffs, like bpftool link pin id N PATH: it stays attached after this command.",
                parameters: selectorParameters + [.argument("path", "Where to pin it (in a bpffs mount).")]
            ) { arguments in
                let fd = try descriptor(2, arguments, "link pin")
                defer { close(fd) }
                do { try Pinning.pin(fd, at: arguments.argument("path")) } catch { throw CLIError("link pin: \(error)") }
            },
            CommandSpec("detach", abstract: "Detach a link from its hook, like bpftool link detach id N.", parameters: selectorParameters) { arguments in
                let fd = try descriptor(2, arguments, "link detach")
                defer { close(fd) }
                do { try Inventory.detachLink(fd: fd) } catch { throw CLIError("link detach: \(error)") }
            },
        ])

    private static func printText(_ l: Inventory.LinkInfo) {
        print("\(l.id): \(l.type)  prog \(l.programID)")
        let fields = hookFields(l)
        if !fields.isEmpty { print("\t" + fields.map { "\($0.0) \($0.1)" }.joined(separator: "  ")) }
    }

    /// The fields bpftool prints for the link's type, as (name, text) with its spelling.
    private static func hookFields(_ l: Inventory.LinkInfo) -> [(String, String)] {
        var fields: [(String, String)] = []
        if let name = l.tracepointName { fields.append(("tp_name", name)) }
        if let attach = l.attachType { fields.append(("attach_type", "\(attach)")) }
        if let object = l.targetObjectID, let type = l.targetBTFTypeID { fields += [("target_obj_id", "\(object)"), ("target_btf_id", "\(type)")] }
        if let cgroup = l.cgroupID { fields.append(("cgroup_id", "\(cgroup)")) }
        if let inode = l.networkNamespaceInode { fields.append(("netns_ino", "\(inode)")) }
        if let ifindex = l.interfaceIndex {
            var name = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
            if ifindex != 0, if_indextoname(ifindex, &name) != nil {
                fields.append(("devname", String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)))
            }
            fields.append(("ifindex", "\(ifindex)"))
        }
        return fields
    }

    /// bpftool's JSON object for a link: the common fields, then its type's.
    static func json(_ l: Inventory.LinkInfo) -> String {
        let numeric: Set<String> = ["target_obj_id", "target_btf_id", "cgroup_id", "netns_ino", "ifindex"]
        return JSON.object(
            [("id", "\(l.id)"), ("type", JSON.string("\(l.type)")), ("prog_id", "\(l.programID)")]
                + hookFields(l).map { ($0.0, numeric.contains($0.0) ? $0.1 : JSON.string($0.1)) })
    }
}

import BPFBenchmarks
import BPFKernel
import BPFObject
import BPFPlatform
import Foundation
import Testing
@testable import swiftbpf

/// The built `swiftbpf` beside the test bundle (`swift build --build-tests` builds both).
private let swiftbpfBinary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("swiftbpf").path
private let binaryReason: String? =
    FileManager.default.isExecutableFile(atPath: swiftbpfBinary) ? nil : "the swiftbpf product is not built beside the tests (swift build)"
private let bpftoolPath = ["/usr/sbin/bpftool", "/usr/bin/bpftool"].first { FileManager.default.isExecutableFile(atPath: $0) }
private let reason: String? =
    KernelSupport.unavailableReason ?? (bpftoolPath == nil ? "bpftool is not installed" : nil) ?? BPFCompiler.unavailableReason ?? binaryReason

/// Runs a command; its standard output and exit status.
private func run(_ path: String, _ arguments: [String]) throws -> (output: String, status: Int32) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (String(decoding: data, as: UTF8.self), process.terminationStatus)
}

private func ours(_ arguments: [String]) throws -> String {
    let (output, status) = try run(swiftbpfBinary, arguments)
    #expect(status == 0, "swiftbpf \(arguments.joined(separator: " ")) exited \(status)")
    return output
}

private func bpftool(_ arguments: [String]) throws -> String { try run(bpftoolPath!, arguments).output }

private func json(_ text: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8)) }

/// A program with two functions, a map, helper calls and C source lines, loaded and pinned for
/// the commands to name.
private final class PinnedProgram {
    let directory = "/sys/fs/bpf/swiftbpf-bpftool-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    var program: String { directory + "/bpftool_cmp" }
    var map: String { directory + "/cmp_counts" }

    init() throws {
        let bytes = try BPFCompiler.compile(
            text: """
                #include <linux/bpf.h>
                #include <bpf/bpf_helpers.h>
                struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } cmp_counts SEC(".maps");
                static __attribute__((noinline)) int twice(int x) { return x * 2 + (int)bpf_get_prandom_u32(); }
                SEC("xdp") int bpftool_cmp(struct xdp_md *ctx) {
                    __u32 key = ctx->ingress_ifindex & 3;
                    __u64 *count = bpf_map_lookup_elem(&cmp_counts, &key);
                    if (count) __sync_fetch_and_add(count, 1);
                    return twice(ctx->rx_queue_index) > 5 ? XDP_PASS : XDP_DROP;
                }
                char LICENSE[] SEC("license") = "GPL";
                """, name: "bpftool-cmp.bpf.c")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bpftool-cmp-\(getpid()).o").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        _ = try ours(["load", path, "--kernel", "--no-attach", "--pin", directory])
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }
}

/// Each inventory command run as a user runs it, its output set against bpftool's for the same
/// object: byte for byte where bpftool prints the same thing, field by field in JSON.
@Suite("Commands against bpftool's", .serialized, .enabled(if: reason == nil, Comment(rawValue: reason ?? "")))
struct BpftoolComparisonTests {
    /// Every command of the inventory groups, and the test here (or in InventoryJSONTests) that
    /// sets it against bpftool or, where bpftool has no such command here, checks it otherwise.
    static let coverage: [String: String] = [
        "prog list": "listsAndShows", "prog show": "listsAndShows", "prog pin": "pins", "prog dump": "dumps",
        "map list": "listsAndShows", "map show": "listsAndShows", "map dump": "mapDump", "map lookup": "mapCommands",
        "map update": "mapCommands", "map delete": "mapCommands", "map pin": "pins", "map create": "mapCreate",
        "link list": "linkFields", "link show": "linkFields", "link pin": "pins", "link detach": "linkSameAsBpftool",
        "btf list": "sameAsBpftool", "btf show": "sameAsBpftool", "btf dump": "btfDump", "feature probe": "featureProbe",
        "prog stats": "stats",
    ]

    @Test("every command of prog, map, link, btf and feature has its comparison")
    func everyCommandCovered() {
        let groups = SwiftBPFCommand.spec.subcommands.filter { ["prog", "map", "link", "btf", "feature"].contains($0.name) }
        let commands = groups.flatMap { group in group.subcommands.map { "\(group.name) \($0.name)" } }
        #expect(commands.count == Self.coverage.count, "\(Set(commands).symmetricDifference(Self.coverage.keys).sorted())")
        for command in commands { #expect(Self.coverage[command] != nil, "\(command) has no comparison with bpftool") }
    }

    @Test("prog dump xlated: text, JSON and opcodes, byte for byte as bpftool prints them")
    func dumps() throws {
        let pinned = try PinnedProgram()
        for variant in [[], ["opcodes"]] {
            for format in [[], ["-j"]] {
                let theirs = try bpftool(format + ["prog", "dump", "xlated", "pinned", pinned.program] + variant)
                let mine = try ours(["prog", "dump", "xlated", "pinned", pinned.program] + format + variant.map { "--" + $0 })
                #expect(!theirs.isEmpty && mine == theirs, "prog dump xlated \(format) \(variant)")
            }
        }
        #expect(try ours(["prog", "dump", "xlated", "pinned", pinned.program]).contains("call pc+"), "the call of twice() named")

        // jited: bpftool here is built without a disassembler; the image is checked whole.
        let fd = try Inventory.descriptor(kind: 0, selector: "pinned", pinned.program)
        defer { close(fd) }
        let image = try Inventory.jitedImage(fd: fd)
        #expect(image.functions.count == 2 && image.functions.map(\.length).reduce(0, +) == image.code.count)
        let text = try ours(["prog", "dump", "jited", "pinned", pinned.program])
        let tag = try #require(Inventory.program(fd: fd)?.tag)
        #expect(text.contains("bpf_prog_\(tag)_bpftool_cmp:\n"), "the function under its kernel symbol")
        #expect(text.contains("int twice(int x):\n"), "the second function's prototype")
        #expect(text.contains("<bpf_prog_") && text.contains("_twice>"), "the call of twice() named by its symbol")
        #expect(text.contains("; __u64 *count = bpf_map_lookup_elem(&cmp_counts, &key);"), "C source lines")
        #expect(!text.contains(".byte"), "every byte decoded")
        let documents = try #require(try json(try ours(["prog", "dump", "jited", "pinned", pinned.program, "-j", "--opcodes"])) as? [[String: Any]])
        let decoded = documents.flatMap { ($0["insns"] as? [[String: Any]]) ?? [] }.map { ($0["opcodes"] as? [String])?.count ?? 0 }.reduce(0, +)
        #expect(decoded == image.code.count, "the JSON's opcodes cover the image")
        #expect(SwiftBPFCommand.spec.main(["prog", "dump", "both", "pinned", pinned.program]) == 64, "an unknown dump kind lists the valid ones")
    }

    @Test("prog list, prog show, map list and map show -j: bpftool's fields and values for the same objects")
    func listsAndShows() throws {
        let pinned = try PinnedProgram()
        func entries(_ text: String) throws -> [[String: Any]] { try #require(try json(text) as? [[String: Any]]) }
        let fd = try Inventory.descriptor(kind: 0, selector: "pinned", pinned.program)
        defer { close(fd) }
        let id = try #require(Inventory.program(fd: fd)?.id)
        let mine = try #require(try entries(try ours(["prog", "list", "-j"])).first { $0["id"] as? Int == Int(id) })
        let theirs = try #require(try entries(try bpftool(["-j", "prog", "list"])).first { $0["id"] as? Int == Int(id) })
        for (key, value) in mine where key != "loaded_at" && key != "map_ids" {
            #expect("\(value)" == "\(theirs[key] ?? "absent")", "prog list field \(key)")
        }
        let shown = try #require(try json(try ours(["prog", "show", "pinned", pinned.program, "-p"])) as? [String: Any])
        #expect("\(shown["map_ids"] ?? "")" == "\(theirs["map_ids"] ?? "absent")")
        let mapFD = try Inventory.descriptor(kind: 1, selector: "pinned", pinned.map)
        defer { close(mapFD) }
        let mapID = try #require(Inventory.map(fd: mapFD)?.id)
        let myMap = try #require(try entries(try ours(["map", "list", "-j"])).first { $0["id"] as? Int == Int(mapID) })
        let theirMap = try #require(try entries(try bpftool(["-j", "map", "list"])).first { $0["id"] as? Int == Int(mapID) })
        for (key, value) in myMap { #expect("\(value)" == "\(theirMap[key] ?? "absent")", "map list field \(key)") }
    }

    /// bpftool has no switch for the kernel's counting (`sysctl kernel.bpf_stats_enabled`):
    /// `prog stats` is set against the counts bpftool then reports.
    @Test("prog stats on: the kernel counts runs, and prog show reports the counts bpftool reports")
    func stats() throws {
        let pinned = try PinnedProgram()
        let before = readFirstLine("/proc/sys/kernel/bpf_stats_enabled") ?? "0"
        defer { _ = try? ours(["prog", "stats", before == "1" ? "on" : "off"]) }
        _ = try ours(["prog", "stats", "on"])
        #expect(readFirstLine("/proc/sys/kernel/bpf_stats_enabled") == "1")
        let program = try KernelProgram(pinnedAt: pinned.program)
        _ = try program.testRun(data: [UInt8](repeating: 0, count: 64), repeat: 7)
        _ = try ours(["prog", "stats", "off"])
        #expect(readFirstLine("/proc/sys/kernel/bpf_stats_enabled") == "0")
        let mine = try #require(try json(try ours(["prog", "show", "pinned", pinned.program, "-j"])) as? [String: Any])
        let theirs = try #require(try json(try bpftool(["-j", "prog", "show", "pinned", pinned.program])) as? [String: Any])
        #expect(mine["run_cnt"] as? Int == 7)
        #expect("\(mine["run_cnt"] ?? "")" == "\(theirs["run_cnt"] ?? "absent")")
        #expect("\(mine["run_time_ns"] ?? "")" == "\(theirs["run_time_ns"] ?? "absent")")
    }

    @Test("map dump -j: bpftool's entries, keys, values and formatted values")
    func mapDump() throws {
        let pinned = try PinnedProgram()
        _ = try ours(["map", "update", "pinned", pinned.map, "--key", "02000000", "--value", "2a00000000000000"])
        let mine = try #require(try json(try ours(["map", "dump", "pinned", pinned.map, "-j"])) as? [[String: Any]])
        let theirs = try #require(try json(try bpftool(["-j", "map", "dump", "pinned", pinned.map])) as? [[String: Any]])
        #expect(mine.count == 4 && (mine as NSArray).isEqual(to: theirs))
    }

    @Test("map create: the map bpftool map create makes, field for field")
    func mapCreate() throws {
        let base = "/sys/fs/bpf/swiftbpf-create-\(getpid())"
        defer { for suffix in ["-ours", "-theirs", "-outer"] { unlink(base + suffix) } }
        _ = try ours([
            "map", "create", base + "-ours", "--type", "lru_hash", "--key", "8", "--value", "16", "--entries", "32", "--name", "created", "--flags", "0x2",
        ])
        _ = try bpftool(["map", "create", base + "-theirs", "type", "lru_hash", "key", "8", "value", "16", "entries", "32", "name", "created", "flags", "2"])
        var mine = try #require(try json(try ours(["map", "show", "pinned", base + "-ours", "-j"])) as? [String: Any])
        var theirs = try #require(try json(try bpftool(["-j", "map", "show", "pinned", base + "-theirs"])) as? [String: Any])
        for key in ["id", "bytes_memlock", "frozen", "pinned"] {
            mine[key] = nil
            theirs[key] = nil
        }
        #expect(!mine.isEmpty && (mine as NSDictionary).isEqual(to: theirs))
        // A map of maps from a template; without one, and with an unknown type, usage errors.
        _ = try ours([
            "map", "create", base + "-outer", "--type", "array_of_maps", "--key", "4", "--value", "4", "--entries", "2", "--inner-map", "pinned \(base)-ours",
        ])
        #expect(try bpftool(["map", "show", "pinned", base + "-outer"]).contains("array_of_maps"))
        let root = SwiftBPFCommand.spec
        #expect(root.main(["map", "create", base + "-x", "--type", "hash_of_maps", "--key", "4", "--value", "4", "--entries", "2"]) == 64)
        #expect(root.main(["map", "create", base + "-x", "--type", "hashy", "--key", "4", "--value", "4", "--entries", "2"]) == 64)
        #expect(root.main(["map", "create", base + "-x", "--type", "hash", "--key", "4", "--value", "4"]) == 64, "--entries missing")
    }

    @Test("prog pin, map pin, link pin: the pinned object is the one bpftool shows by id")
    func pins() throws {
        let pinned = try PinnedProgram()
        let again = pinned.directory + "/again"
        _ = try ours(["prog", "pin", "pinned", pinned.program, again])
        let first = try #require(try json(try bpftool(["-j", "prog", "show", "pinned", pinned.program])) as? [String: Any])
        let second = try #require(try json(try bpftool(["-j", "prog", "show", "pinned", again])) as? [String: Any])
        #expect(first["id"] as? Int != nil && first["id"] as? Int == second["id"] as? Int)
        _ = try ours(["map", "pin", "pinned", pinned.map, again + "-map"])
        let map = try #require(try json(try bpftool(["-j", "map", "show", "pinned", again + "-map"])) as? [String: Any])
        #expect(map["name"] as? String == "cmp_counts")
        // A link, pinned by id, outlives this process's descriptor.
        let object = try KernelObject(
            ObjectFile(
                bytes: try BPFCompiler.compile(
                    text: """
                        #include <linux/bpf.h>
                        #include <bpf/bpf_helpers.h>
                        SEC("tracepoint/syscalls/sys_enter_getppid") int pin_tp(void *ctx) { return 0; }
                        char LICENSE[] SEC("license") = "GPL";
                        """, name: "pin-link.bpf.c")))
        let link = try object.load().attach()
        let linkID = try #require(link.linkFD.flatMap { Inventory.link(fd: $0)?.id })
        _ = try ours(["link", "pin", "id", "\(linkID)", again + "-link"])
        let shown = try #require(try json(try bpftool(["-j", "link", "show", "pinned", again + "-link"])) as? [String: Any])
        #expect(shown["id"] as? Int == Int(linkID))
    }

    @Test("link list and link show -j: bpftool's fields for each link type's hook (raw tracepoint, XDP, perf event)")
    func linkFields() throws {
        let object = try KernelObject(
            ObjectFile(
                bytes: try BPFCompiler.compile(
                    text: """
                        #include <linux/bpf.h>
                        #include <bpf/bpf_helpers.h>
                        SEC("raw_tracepoint/sys_enter") int fields_raw(void *ctx) { return 0; }
                        SEC("xdp") int fields_xdp(struct xdp_md *ctx) { return XDP_PASS; }
                        SEC("tracepoint/syscalls/sys_enter_getppid") int fields_tp(void *ctx) { return 0; }
                        char LICENSE[] SEC("license") = "GPL";
                        """, name: "link-fields.bpf.c")))
        let raw = try RawTracepointLink(try object.load(program: "fields_raw"), name: "sys_enter")
        let xdp = try XDPLink(try object.load(program: "fields_xdp"), interface: "lo", using: .link)
        let tracepoint = try object.load(program: "fields_tp").attach()
        let theirList = try #require(try json(try bpftool(["-j", "link", "list"])) as? [[String: Any]])
        let myList = try #require(try json(try ours(["link", "list", "-j"])) as? [[String: Any]])
        for fd in [raw.linkFD, xdp.linkFD, tracepoint.linkFD] {
            let id = try #require(fd.flatMap { Inventory.link(fd: $0)?.id })
            let mine = try #require(try json(try ours(["link", "show", "id", "\(id)", "-j"])) as? [String: Any])
            let theirs = try #require(try json(try bpftool(["-j", "link", "show", "id", "\(id)"])) as? [String: Any])
            // bpftool 7.1 prints nothing of an XDP link's interface; later ones print devname
            // and ifindex, as we do.
            for (key, value) in mine where !(mine["type"] as? String == "xdp" && ["devname", "ifindex"].contains(key) && theirs[key] == nil) {
                #expect("\(value)" == "\(theirs[key] ?? "absent")", "link \(id) field \(key)")
            }
            #expect(mine["type"] as? String == "perf_event" || mine.count > 3, "link \(id): its hook's fields")
            let listed = try #require(myList.first { $0["id"] as? Int == Int(id) })
            #expect((listed as NSDictionary).isEqual(to: mine), "link list gives link show's object")
            #expect(theirList.contains { $0["id"] as? Int == Int(id) })
        }
        #expect(Inventory.link(fd: try #require(raw.linkFD))?.tracepointName == "sys_enter")
        #expect(Inventory.link(fd: try #require(xdp.linkFD))?.interfaceIndex == 1)
        // Detached, the link stays (as its descriptor does) but leaves its hook: bpftool no longer
        // shows the interface.
        let xdpID = try #require(xdp.linkFD.flatMap { Inventory.link(fd: $0)?.id })
        #expect(SwiftBPFCommand.spec.main(["link", "detach", "id", "\(xdpID)"]) == 0)
        let detached = try #require(try json(try bpftool(["-j", "link", "show", "id", "\(xdpID)"])) as? [String: Any])
        #expect(detached["prog_id"] as? Int != nil)
        #expect(Inventory.link(fd: try #require(xdp.linkFD))?.interfaceIndex == 0, "detached: no interface")
    }

    @Test("btf dump -j: bpftool's JSON of a program's BTF byte for byte, and of vmlinux type for type")
    func btfDump() throws {
        let pinned = try PinnedProgram()
        let fd = try Inventory.descriptor(kind: 0, selector: "pinned", pinned.program)
        defer { close(fd) }
        let btfID = try #require(Inventory.program(fd: fd)?.btfID)
        let theirs = try bpftool(["-j", "btf", "dump", "id", "\(btfID)"])
        let mineText = try ours(["btf", "dump", "id", "\(btfID)", "-j"])
        #expect(!theirs.isEmpty && mineText == theirs)
        // vmlinux: the same 100,000-odd types, except that bpftool 7.1 sign-extends the values of
        // unsigned 32-bit enumerators past 2^31 (E820_TYPE_SOFT_RESERVED = 0xefffffff as
        // 18446744073441116159); we print the value the enumerator has.
        let all = { (text: String) throws -> [[String: Any]] in try #require((try json(text) as? [String: Any])?["types"] as? [[String: Any]]) }
        let mine = try all(try ours(["btf", "dump", "/sys/kernel/btf/vmlinux", "-j"]))
        let their = try all(try bpftool(["-j", "btf", "dump", "file", "/sys/kernel/btf/vmlinux"]))
        #expect(mine.count == their.count && mine.count > 10_000)
        var differing = 0
        for (a, b) in zip(mine, their) where !(a as NSDictionary).isEqual(to: b) {
            differing += 1
            let values = zip((a["values"] as? [[String: Any]]) ?? [], (b["values"] as? [[String: Any]]) ?? [])
            let explained =
                a["kind"] as? String == "ENUM" && a["encoding"] as? String == "UNSIGNED"
                && values.allSatisfy { x, y in
                    let (ourValue, theirValue) = ((x["val"] as? NSNumber)?.uint64Value ?? 0, (y["val"] as? NSNumber)?.uint64Value ?? 0)
                    return ourValue == theirValue || (ourValue >= 1 << 31 && ourValue < 1 << 32 && theirValue == ourValue | 0xffff_ffff_0000_0000)
                }
            #expect(explained, "type \(a["id"] ?? "?") differs: ours \(a), bpftool's \(b)")
        }
        #expect(differing < 100, "\(differing) types differ")
    }

    @Test("feature probe -j: the program and map types bpftool finds, each probed for real")
    func featureProbe() throws {
        let mine = try #require(try json(try ours(["feature", "probe", "-j"])) as? [String: [String: Any]])
        let theirs = try #require(try json(try bpftool(["-j", "feature", "probe"])) as? [String: Any])
        for section in ["program_types", "map_types"] {
            let theirSection = try #require(theirs[section] as? [String: Bool])
            let mySection = try #require(mine[section] as? [String: Bool])
            for (key, value) in theirSection {
                // bpftool 7.1 (libbpf 1.1) probes tracing without an attach target, which this
                // kernel refuses; we load a tp_btf program, which it accepts.
                if key == "have_tracing_prog_type", value == false, mySection[key] == true {
                    #expect(FeatureProbe.probe(.tracing) == .available)
                    continue
                }
                #expect(mySection[key] == value, "\(section) \(key): bpftool \(value), ours \(mySection[key].map { "\($0)" } ?? "absent")")
            }
        }
        let helpers = try #require(mine["helpers"] as? [String: [String]])
        #expect(helpers["xdp_available_helpers"]?.contains("bpf_xdp_adjust_head") == true)
        #expect(helpers["xdp_available_helpers"]?.contains("bpf_skb_store_bytes") == false, "an skb helper is no XDP helper")
    }
}

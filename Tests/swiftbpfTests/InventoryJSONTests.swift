import BPFBenchmarks
import BPFKernel
import BPFObject
import BPFPlatform
import BTF
import Foundation
import Testing
@testable import swiftbpf

private let kernelReason = KernelSupport.unavailableReason
private let bpftool = ["/usr/sbin/bpftool", "/usr/bin/bpftool"].first { FileManager.default.isExecutableFile(atPath: $0) }
private let bpftoolReason: String? = bpftool == nil ? "bpftool is not installed" : nil
private let compilerReason = BPFCompiler.unavailableReason

/// `prog show -j` and `map show -j` against `bpftool -j` on a program and map loaded here, field
/// by field (bpftool's `bytes_memlock`, an accounting figure, is not printed).
@Suite(
    "Inventory JSON against bpftool's", .serialized, .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
    .enabled(if: bpftoolReason == nil, Comment(rawValue: bpftoolReason ?? "")),
    .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
struct InventoryJSONTests {
    private func bpftoolJSON(_ arguments: [String]) throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: bpftool!)
        process.arguments = ["-j"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func parsed(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test("prog show and map show: the same fields and values as bpftool -j")
    func sameAsBpftool() throws {
        let object = try KernelObject(
            ObjectFile(
                bytes: try BPFCompiler.compile(
                    text: """
                        #include <linux/bpf.h>
                        #include <bpf/bpf_helpers.h>
                        struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8); __type(key, __u32); __type(value, __u64); } inventory_counts SEC(".maps");
                        SEC("xdp") int inventory_long_program_name(struct xdp_md *ctx) { __u32 k = 1; __u64 *v = bpf_map_lookup_elem(&inventory_counts, &k); return v ? XDP_DROP : XDP_PASS; }
                        char LICENSE[] SEC("license") = "GPL";
                        """, name: "inventory.bpf.c")))
        let program = try object.load()
        let info = try #require(Inventory.program(fd: program.fd))
        let ours = try parsed(ProgCommand.json(info, mapIDs: try Inventory.contents(fd: program.fd).mapIDs))
        let theirs = try bpftoolJSON(["prog", "show", "id", "\(info.id)"])
        for (key, value) in ours {
            if key == "loaded_at" {
                #expect(abs((value as? Int ?? 0) - (theirs[key] as? Int ?? 0)) <= 1, "loaded_at")
                continue
            }
            #expect("\(value)" == "\(theirs[key] ?? "absent")", "prog field \(key)")
        }
        #expect(Set(theirs.keys).subtracting(ours.keys) == ["bytes_memlock"])
        #expect(info.name == "inventory_long_program_name", "the whole name, from the program's BTF")

        let map = try #require(object.map(named: "inventory_counts"))
        let mapInfo = try #require(Inventory.map(fd: map.fd))
        let oursMap = try parsed(MapCommand.json(mapInfo))
        let theirsMap = try bpftoolJSON(["map", "show", "id", "\(mapInfo.id)"])
        for (key, value) in oursMap { #expect("\(value)" == "\(theirsMap[key] ?? "absent")", "map field \(key)") }
        #expect(Set(theirsMap.keys).subtracting(oursMap.keys).isSubset(of: ["bytes_memlock", "frozen"]))

        // btf dump id N: the program's BTF as bpftool prints it.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: bpftool!)
        process.arguments = ["btf", "dump", "id", "\(info.btfID)"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(try BTF(bytes: KernelBTF.bytes(id: info.btfID)).rawDump() == text)
        // btf show id N: bpftool's fields, the program and map loaded with it among its users.
        let btfFD = try Inventory.descriptor(kind: 3, selector: "id", "\(info.btfID)")
        defer { close(btfFD) }
        let btfInfo = try #require(Inventory.btf(fd: btfFD))
        let users = try Inventory.programs().filter { $0.btfID == info.btfID }.map(\.id)
        let mapUsers = try Inventory.maps().filter { $0.btfID == info.btfID }.map(\.id)
        let oursBTF = try parsed(BTFCommand.json(btfInfo, programs: users, maps: mapUsers))
        let theirsBTF = try bpftoolJSON(["btf", "show", "id", "\(info.btfID)"])
        for (key, value) in oursBTF { #expect("\(value)" == "\(theirsBTF[key] ?? "absent")", "btf field \(key)") }
        #expect(Set(theirsBTF.keys) == Set(oursBTF.keys))

        // prog dump xlated: the C source lines bpftool prints, in its order.
        let dump = Process()
        dump.executableURL = URL(fileURLWithPath: bpftool!)
        dump.arguments = ["prog", "dump", "xlated", "id", "\(info.id)"]
        let dumpPipe = Pipe()
        dump.standardOutput = dumpPipe
        try dump.run()
        let xlated = String(decoding: dumpPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        dump.waitUntilExit()
        let theirLines = xlated.split(separator: "\n").filter { $0.hasPrefix("; ") }.map { String($0.dropFirst(2)) }
        let ourLines = Inventory.sourceLines(fd: program.fd).sorted { $0.key < $1.key }.map {
            String($0.value.trimmingPrefix(while: { $0 == " " || $0 == "\t" }))
        }
        #expect(!ourLines.isEmpty && ourLines == theirLines)
    }

    @Test("link show: the same fields as bpftool -j, for a tracepoint attached here")
    func linkSameAsBpftool() throws {
        let object = try KernelObject(
            ObjectFile(
                bytes: try BPFCompiler.compile(
                    text: """
                        #include <linux/bpf.h>
                        #include <bpf/bpf_helpers.h>
                        SEC("tracepoint/syscalls/sys_enter_getppid") int inventory_tp(void *ctx) { return 0; }
                        char LICENSE[] SEC("license") = "GPL";
                        """, name: "inventory-link.bpf.c")))
        let link = try object.load().attach()
        let fd = try #require(link.linkFD, "the kernel gave the attachment a link")
        let info = try #require(Inventory.link(fd: fd))
        let theirs = try bpftoolJSON(["link", "show", "id", "\(info.id)"])
        for (key, value) in try parsed(LinkCommand.json(info)) { #expect("\(value)" == "\(theirs[key] ?? "absent")", "link field \(key)") }
        #expect(try Inventory.links().contains(info))
    }

    @Test("map update, lookup, delete and pin by pinned path, as a user runs them")
    func mapCommands() throws {
        let map = try KernelMap(MapDefinition(name: "inv_cli", type: .hash, keySize: 4, valueSize: 8, maxEntries: 4, flags: [], section: "", offset: 0))
        let path = "/sys/fs/bpf/swiftbpf-inventory-\(getpid())"
        try map.pin(at: path)
        defer {
            unlink(path)
            unlink(path + "-again")
        }
        let root = SwiftBPFCommand.spec
        #expect(root.main(["map", "update", "pinned", path, "--key", "01000000", "--value", "0200000000000000"]) == 0)
        #expect(try map.lookup([1, 0, 0, 0]) == [2, 0, 0, 0, 0, 0, 0, 0])
        #expect(root.main(["map", "lookup", "pinned", path, "--key", "01000000", "-j"]) == 0)
        #expect(root.main(["map", "update", "pinned", path, "--key", "01", "--value", "00"]) == 1, "sizes that do not fit")
        #expect(root.main(["map", "pin", "pinned", path, path + "-again"]) == 0)
        #expect(root.main(["map", "delete", "pinned", path + "-again", "--key", "01000000"]) == 0)
        #expect(try map.lookup([1, 0, 0, 0]) == nil)
        #expect(root.main(["map", "lookup", "pinned", path, "--key", "01000000"]) == 1, "no entry")
    }
}

import BPFBenchmarks
import BPFCore
import BPFObject
import BPFPlatform
import BPFRuntime
import Foundation
import Testing

private let compilerReason = BPFCompiler.unavailableReason

/// The runtime's inventory of live programs and maps, through the API and the debug endpoint.
@Suite("Runtime inventory", .serialized, .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")))
struct RuntimeInventoryTests {
    private static func object() throws -> ObjectFile {
        try ObjectFile(
            bytes: try BPFCompiler.compile(
                text: """
                    #include <linux/bpf.h>
                    #include <bpf/bpf_helpers.h>
                    struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, __u32); __type(value, __u64); } inventoried SEC(".maps");
                    SEC("xdp") int inventory_xdp(struct xdp_md *ctx) { __u32 k = 0; return bpf_map_lookup_elem(&inventoried, &k) ? XDP_DROP : XDP_PASS; }
                    char LICENSE[] SEC("license") = "GPL";
                    """, name: "runtime-inventory.bpf.c"))
    }

    @Test("a loaded program and its object's maps are listed with ids while they live, and gone after")
    func listsWhileAlive() throws {
        var object: UserspaceObject? = try UserspaceObject(Self.object())
        var program: UserspaceProgram? = try object!.load(program: "inventory_xdp")
        let programID = try #require(program?.id)
        let mapID = try #require(object?.mapIDs.first)
        let listed = try #require(RuntimeInventory.programs().first { $0.id == programID })
        #expect(listed.name == "inventory_xdp" && listed.type == .xdp && listed.verified && listed.mapIDs == [mapID])
        #expect(listed.translatedBytes > 0 && (listed.jitedBytes > 0) == (program?.jit != nil))
        let map = try #require(RuntimeInventory.maps().first { $0.id == mapID })
        #expect(map.name == "inventoried" && map.shape.type == .hash && map.shape.maxEntries == 16 && map.shape.keySize == 4)
        // The program keeps its object (and so its maps) alive: dropping the object alone
        // leaves both listed.
        object = nil
        #expect(RuntimeInventory.maps().contains { $0.id == mapID })
        program = nil
        #expect(!RuntimeInventory.programs().contains { $0.id == programID })
        #expect(!RuntimeInventory.maps().contains { $0.id == mapID })
    }

    @Test("the debug endpoint answers prog list and map list, in text and bpftool's JSON")
    func endpoint() throws {
        let object = try UserspaceObject(Self.object())
        let program = try object.load(program: "inventory_xdp")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbpf-endpoint-\(getpid()).sock").path
        let endpoint = try DebugEndpoint(path: path)
        defer { endpoint.close() }
        let text = try DebugEndpoint.request("prog list", at: path)
        #expect(text.contains("\(program.id): xdp  name inventory_xdp  section xdp  verified"))
        let programs = try #require(try JSONSerialization.jsonObject(with: Data(try DebugEndpoint.request("prog list -j", at: path).utf8)) as? [[String: Any]])
        let entry = try #require(programs.first { $0["id"] as? Int == Int(program.id) })
        #expect(entry["type"] as? String == "xdp" && entry["map_ids"] as? [Int] == object.mapIDs.map(Int.init))
        let maps = try #require(try JSONSerialization.jsonObject(with: Data(try DebugEndpoint.request("map list -j", at: path).utf8)) as? [[String: Any]])
        #expect(maps.contains { $0["name"] as? String == "inventoried" && $0["bytes_value"] as? Int == 8 })
        #expect(try DebugEndpoint.request("btf list", at: path).hasPrefix("error: "))
        endpoint.close()
        #expect(throws: DebugEndpoint.Failure.self) { try DebugEndpoint.request("prog list", at: path) }
    }
}

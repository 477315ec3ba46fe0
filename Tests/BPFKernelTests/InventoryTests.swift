import BPFBenchmarks
import BPFKernel
import BPFObject
import BPFTestSupport
import Foundation
import Testing

private let kernelReason = KernelSupport.unavailableReason
private let compilerReason = BPFCompiler.unavailableReason
private let bench = SharedFixtures.path("bench")
private let bpftoolPresent = (referenceToolOutput("bpftool", ["version"])) != nil

@Suite("Inventory against bpftool")
struct InventoryTests {
    @Test(
        "programs and maps we load are listed as bpftool lists them",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")),
        .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
        .enabled(if: bench != nil, "../shared/bench is absent"),
        .enabled(if: bpftoolPresent, "bpftool is not installed"))
    func againstBpftool() throws {
        let loaded = try KernelObject(try ObjectFile(bytes: try BPFCompiler.compile(bench! + "/maps.bpf.c")))
        let program = try loaded.load()
        _ = try program.testRun(data: BenchmarkPrograms.packet)

        let programs = try Inventory.programs()
        let mine = try #require(programs.first { $0.name == "bench_maps" })
        #expect(mine.type == .xdp && mine.mapCount == 2 && mine.jitedBytes > 0)
        let progJSON = try #require(referenceToolOutput("bpftool", ["prog", "list", "-j"]))
        let progs = try #require(try JSONSerialization.jsonObject(with: Data(progJSON.utf8)) as? [[String: Any]])
        let theirs = try #require(progs.first { ($0["id"] as? Int) == Int(mine.id) })
        #expect(theirs["name"] as? String == "bench_maps")
        #expect(theirs["type"] as? String == mine.type?.description)
        #expect(theirs["tag"] as? String == mine.tag)
        #expect(theirs["bytes_xlated"] as? Int == Int(mine.translatedBytes))
        #expect(theirs["bytes_jited"] as? Int == Int(mine.jitedBytes))

        let mapJSON = try #require(referenceToolOutput("bpftool", ["map", "list", "-j"]))
        let bpftoolMaps = try #require(try JSONSerialization.jsonObject(with: Data(mapJSON.utf8)) as? [[String: Any]])
        let ours = try Inventory.maps().filter { $0.name == "counters" || $0.name == "table" }
        #expect(ours.count >= 2)
        for map in ours {
            let theirs = try #require(bpftoolMaps.first { ($0["id"] as? Int) == Int(map.id) })
            #expect(theirs["name"] as? String == map.name)
            #expect(theirs["bytes_key"] as? Int == Int(map.keySize) && theirs["bytes_value"] as? Int == Int(map.valueSize))
            #expect(theirs["max_entries"] as? Int == Int(map.maxEntries))
            // map dump by id reads what the program wrote: every array slot counted once.
            if map.name == "counters" {
                let entries = try KernelMap(id: map.id).entries()
                #expect(entries.count == 256 && entries.allSatisfy { $0.value == [1, 0, 0, 0, 0, 0, 0, 0] })
            }
        }
        withExtendedLifetime((loaded, program)) {}
    }
}

public import BPFCore
import BPFMaps
import BTF
import Synchronization

/// The userspace runtime's live programs and maps, numbered as the kernel numbers its own: a
/// program gets an id when it is loaded, an object's maps when the object is created, and each
/// leaves the inventory when it is freed. What `swiftbpf prog list` and `map list` show of the
/// kernel, an embedding application shows of itself (through ``DebugEndpoint`` too).
public enum RuntimeInventory {
    /// What the inventory says of a program.
    public struct Program: Sendable, Equatable {
        public var id: UInt32
        public var name: String
        public var type: ProgramType
        public var section: String
        /// Whether our verifier proved it safe at load (`verify: false` loads run checked).
        public var verified: Bool
        /// The size of its instructions (`bytes_xlated`) and of its native code (0 without JIT).
        public var translatedBytes: Int
        public var jitedBytes: Int
        /// The ids of the maps of its object.
        public var mapIDs: [UInt32]
        /// Its runs and their nanoseconds, counted while a ``StatisticsToken`` lives.
        public var runCount: UInt64 = 0
        public var runNanoseconds: UInt64 = 0
    }

    /// What the inventory says of a map.
    public struct Map: Sendable, Equatable {
        public var id: UInt32
        public var name: String
        public var shape: MapShape
    }

    /// What the inventory says of a hook link.
    public struct Link: Sendable, Equatable {
        public var id: UInt32
        /// The hook's name.
        public var hook: String
        /// The program the link runs now.
        public var programID: UInt32
        public var cookie: UInt64
    }

    private struct Table: ~Copyable {
        var nextID: UInt32 = 1
        var links: [Link] = []
        var programs: [Program] = []
        var statistics: [UInt32: ProgramStatistics] = [:]
        var maps: [Map] = []
    }

    private static let table = Mutex(Table())

    /// Every live program, in the order loaded.
    public static func programs() -> [Program] {
        table.withLock { table in
            table.programs.map { program in
                var program = program
                if let statistics = table.statistics[program.id] {
                    (program.runCount, program.runNanoseconds) = (statistics.runCount, statistics.runNanoseconds)
                }
                return program
            }
        }
    }

    /// Every hook link, in the order made.
    public static func links() -> [Link] { table.withLock { $0.links } }

    static func register(_ link: Link) -> UInt32 {
        table.withLock { table in
            var link = link
            link.id = table.nextID
            table.nextID += 1
            table.links.append(link)
            return link.id
        }
    }

    /// Records that link `id` runs program `programID` now.
    static func update(link id: UInt32, programID: UInt32) {
        table.withLock { table in
            if let i = table.links.firstIndex(where: { $0.id == id }) { table.links[i].programID = programID }
        }
    }

    static func unregister(link id: UInt32) { table.withLock { $0.links.removeAll { $0.id == id } } }

    /// Every live map, in the order created.
    public static func maps() -> [Map] { table.withLock { $0.maps } }

    static func register(_ program: Program, statistics: ProgramStatistics) -> UInt32 {
        table.withLock { table in
            var program = program
            program.id = table.nextID
            table.nextID += 1
            table.programs.append(program)
            table.statistics[program.id] = statistics
            return program.id
        }
    }

    static func register(maps: [BPFMap]) -> [UInt32] {
        table.withLock { table in
            maps.map { map in
                let id = table.nextID
                table.nextID += 1
                table.maps.append(Map(id: id, name: map.name, shape: map.shape))
                return id
            }
        }
    }

    static func unregister(program id: UInt32) {
        table.withLock {
            $0.programs.removeAll { $0.id == id }
            $0.statistics[id] = nil
        }
    }

    static func unregister(maps ids: [UInt32]) { table.withLock { $0.maps.removeAll { ids.contains($0.id) } } }

    // MARK: - As bpftool prints the kernel's

    /// bpftool's JSON object for a program (`prog list -j`), with the runtime's `verified` and
    /// `section` beside the kernel's fields.
    public static func json(_ p: Program) -> String {
        let mapIDs = "[" + p.mapIDs.map(String.init).joined(separator: ",") + "]"
        return "{\"id\":\(p.id),\"type\":\(jsonQuoted("\(p.type)")),\"name\":\(jsonQuoted(p.name)),\"section\":\(jsonQuoted(p.section)),"
            + "\"verified\":\(p.verified),\"bytes_xlated\":\(p.translatedBytes),\"jited\":\(p.jitedBytes > 0),\"bytes_jited\":\(p.jitedBytes),"
            + (p.runNanoseconds > 0 ? "\"run_time_ns\":\(p.runNanoseconds),\"run_cnt\":\(p.runCount)," : "") + "\"map_ids\":\(mapIDs)}"
    }

    /// bpftool's JSON object for a map (`map list -j`).
    public static func json(_ m: Map) -> String {
        "{\"id\":\(m.id),\"type\":\(jsonQuoted("\(m.shape.type)")),\"name\":\(jsonQuoted(m.name)),\"flags\":\(m.shape.flags.rawValue),"
            + "\"bytes_key\":\(m.shape.keySize),\"bytes_value\":\(m.shape.valueSize),\"max_entries\":\(m.shape.maxEntries)}"
    }

    /// `prog list` as bpftool prints the kernel's: two lines a program.
    public static func text(_ p: Program) -> String {
        "\(p.id): \(p.type)  name \(p.name.isEmpty ? "-" : p.name)  section \(p.section)\(p.verified ? "  verified" : "  unverified")"
            + (p.runNanoseconds > 0 ? "  run_time_ns \(p.runNanoseconds) run_cnt \(p.runCount)" : "") + "\n"
            + "\txlated \(p.translatedBytes)B  jited \(p.jitedBytes)B"
            + (p.mapIDs.isEmpty ? "" : "  map_ids \(p.mapIDs.map(String.init).joined(separator: ","))")
    }

    /// bpftool's JSON object for a link (`link list -j`), its hook named.
    public static func json(_ l: Link) -> String {
        "{\"id\":\(l.id),\"type\":\"hook\",\"prog_id\":\(l.programID),\"hook\":\(jsonQuoted(l.hook)),\"cookie\":\(l.cookie)}"
    }

    /// `link list` as bpftool prints the kernel's: two lines a link.
    public static func text(_ l: Link) -> String { "\(l.id): hook  prog \(l.programID)\n\thook \(l.hook)  cookie \(l.cookie)" }

    /// `map list` as bpftool prints the kernel's: two lines a map.
    public static func text(_ m: Map) -> String {
        "\(m.id): \(m.shape.type)  name \(m.name.isEmpty ? "-" : m.name)  flags 0x\(String(m.shape.flags.rawValue, radix: 16))\n"
            + "\tkey \(m.shape.keySize)B  value \(m.shape.valueSize)B  max_entries \(m.shape.maxEntries)"
    }
}

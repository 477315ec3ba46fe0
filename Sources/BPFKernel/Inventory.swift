public import BPFCore
import BTF
import CBPFShims
import BPFPlatform

/// What is loaded in the running kernel, as `bpftool prog list` and `map list` show it.
public enum Inventory {
    /// A loaded program.
    public struct ProgramInfo: Sendable, Equatable {
        public var id: UInt32
        public var type: ProgramType?
        public var name: String
        /// The program's tag (a hash of its instructions), hex.
        public var tag: String
        public var translatedBytes: UInt32
        public var jitedBytes: UInt32
        public var mapCount: UInt32
        public var createdByUID: UInt32
        /// The id of the BTF it was loaded with (0: none), and how many function and line
        /// records came with it.
        public var btfID: UInt32 = 0
        public var functionInfoCount: UInt32 = 0
        public var lineInfoCount: UInt32 = 0
        /// Whether its license is GPL-compatible.
        public var gplCompatible = false
        /// When it was loaded, nanoseconds since boot.
        public var loadTime: UInt64 = 0
        /// Its runs and their total time, counted while statistics are on (`BPF_ENABLE_STATS`,
        /// or the `kernel.bpf_stats_enabled` sysctl).
        public var runCount: UInt64 = 0
        public var runTimeNanoseconds: UInt64 = 0
    }

    /// A map in the kernel.
    public struct MapInfo: Sendable, Equatable {
        public var id: UInt32
        public var type: MapType
        public var name: String
        public var keySize: UInt32
        public var valueSize: UInt32
        public var maxEntries: UInt32
        public var flags: MapFlags
        /// The id of the BTF its key and value types are in (0: none), and those types.
        public var btfID: UInt32 = 0
        public var keyTypeID: UInt32 = 0
        public var valueTypeID: UInt32 = 0
    }

    /// A BTF object in the kernel: the kernel's own (vmlinux, modules') or one a program or map
    /// was loaded with.
    public struct BTFInfo: Sendable, Equatable {
        public var id: UInt32
        public var size: UInt32
        public var name: String
        public var isKernel: Bool
    }

    /// Every BTF object in the kernel.
    public static func btfs() throws(KernelError) -> [BTFInfo] {
        try every(kind: 3, btf)
    }

    /// What the kernel says of the BTF object behind `fd`, or nil when it will not say.
    public static func btf(fd: Int32) -> BTFInfo? {
        var id: UInt32 = 0, size: UInt32 = 0, kernel: UInt32 = 0
        var name = [CChar](repeating: 0, count: 64)
        guard name.withUnsafeMutableBufferPointer({ cbpf_btf_info(fd, &id, &size, &kernel, $0.baseAddress, UInt32($0.count)) }) == 0 else { return nil }
        return BTFInfo(id: id, size: size, name: String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self), isKernel: kernel != 0)
    }

    /// A link in the kernel.
    public struct LinkInfo: Sendable, Equatable {
        public var id: UInt32
        public var type: LinkType
        public var programID: UInt32
        /// Where it is attached, as the link type says it: the raw tracepoint's name; the
        /// tracing, cgroup or netns attach type; the cgroup's id; the network namespace's inode;
        /// the XDP interface; the tracing target (a BTF object's id and a type id in it).
        public var tracepointName: String?
        public var attachType: AttachType?
        public var cgroupID: UInt64?
        public var networkNamespaceInode: UInt32?
        public var interfaceIndex: UInt32?
        public var targetObjectID: UInt32?
        public var targetBTFTypeID: UInt32?
    }

    /// Every link in the kernel.
    public static func links() throws(KernelError) -> [LinkInfo] {
        try every(kind: 2, link)
    }

    /// What the kernel says of the link behind `fd`, or nil when it will not say.
    public static func link(fd: Int32) -> LinkInfo? {
        var s = cbpf_link_summary()
        guard cbpf_link_info(fd, &s) == 0 else { return nil }
        let type = LinkType(rawValue: s.type)
        var info = LinkInfo(id: s.id, type: type, programID: s.prog_id)
        switch type {
        case .rawTracepoint: info.tracepointName = withUnsafeBytes(of: s.tp_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        case .tracing:
            info.attachType = AttachType(rawValue: s.attach_type)
            (info.targetObjectID, info.targetBTFTypeID) = (s.target_obj_id, s.target_btf_id)
        case .cgroup: (info.attachType, info.cgroupID) = (AttachType(rawValue: s.attach_type), s.cgroup_id)
        case .netns: (info.attachType, info.networkNamespaceInode) = (AttachType(rawValue: s.attach_type), s.netns_ino)
        case .xdp: info.interfaceIndex = s.ifindex
        default: break
        }
        return info
    }

    /// Detaches the link behind `fd` (`BPF_LINK_DETACH`): its program leaves the hook, though
    /// the link stays until its last descriptor and pin go.
    public static func detachLink(fd: Int32) throws(KernelError) {
        let r = cbpf_link_detach(fd)
        guard r == 0 else { throw KernelError(command: "BPF_LINK_DETACH", errno: -r) }
    }

    /// What `describe` says of each program, map, link or BTF object (`kind` 0 to 3), in id
    /// order; one that goes away while being listed, or of which the kernel will not say, is
    /// skipped.
    private static func every<T>(kind: Int32, _ describe: (Int32) -> T?) throws(KernelError) -> [T] {
        try ids(kind: kind).compactMap { id in
            let fd = cbpf_fd_by_id(kind, id)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            return describe(fd)
        }
    }

    /// Ids of programs (kind 0), maps (kind 1), links (kind 2) or BTF objects (kind 3), ascending.
    static func ids(kind: Int32) throws(KernelError) -> [UInt32] {
        var out: [UInt32] = []
        var current: UInt32 = 0
        while true {
            var next: UInt32 = 0
            let r = cbpf_next_id(kind, current, &next)
            if r == -Int32(ENOENT) { return out }
            guard r == 0 else {
                throw KernelError(
                    command: ["BPF_PROG_GET_NEXT_ID", "BPF_MAP_GET_NEXT_ID", "BPF_LINK_GET_NEXT_ID", "BPF_BTF_GET_NEXT_ID"][Int(kind)], errno: -r)
            }
            out.append(next)
            current = next
        }
    }

    /// Every loaded program. One that goes away while being listed is skipped.
    public static func programs() throws(KernelError) -> [ProgramInfo] {
        try every(kind: 0, program)
    }

    /// What the kernel says of the program behind `fd`, or nil when it will not say.
    public static func program(fd: Int32) -> ProgramInfo? {
        guard let s = try? summary(fd: fd) else { return nil }
        var name = withUnsafeBytes(of: s.name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        // The kernel keeps 15 bytes of a name; the program's BTF has it whole (as bpftool reads it).
        if name.utf8.count == 15, s.btf_id != 0, s.nr_func_info > 0, let whole = functionName(fd: fd, btfID: s.btf_id, records: s.nr_func_info),
            whole.hasPrefix(name)
        {
            name = whole
        }
        let tag = withUnsafeBytes(of: s.tag) { hexString($0) }
        return ProgramInfo(
            id: s.id, type: ProgramType(rawValue: s.type), name: name, tag: tag, translatedBytes: s.xlated_len,
            jitedBytes: s.jited_len, mapCount: s.nr_map_ids, createdByUID: s.created_by_uid,
            btfID: s.btf_id, functionInfoCount: s.nr_func_info, lineInfoCount: s.nr_line_info, gplCompatible: s.gpl_compatible != 0,
            loadTime: s.load_time, runCount: s.run_cnt, runTimeNanoseconds: s.run_time_ns)
    }

    /// The kernel's summary of the program behind `fd` (`BPF_OBJ_GET_INFO_BY_FD`).
    static func summary(fd: Int32) throws(KernelError) -> cbpf_prog_summary {
        var s = cbpf_prog_summary()
        let r = cbpf_prog_info(fd, &s)
        guard r == 0 else { throw KernelError(command: "BPF_OBJ_GET_INFO_BY_FD", errno: -r) }
        return s
    }

    /// The program's BTF function (`lines` false: 2 words each) or line records (4 words each),
    /// `count` of them, with the program's BTF to read their names; nil where the kernel gives
    /// neither.
    static func btfRecords(fd: Int32, btfID: UInt32, lines: Bool, count: UInt32) -> ([UInt32], BTF)? {
        var records = [UInt32](repeating: 0, count: Int(count) * (lines ? 4 : 2))
        guard btfID != 0, count > 0,
            records.withUnsafeMutableBufferPointer({ cbpf_prog_btf_records(fd, lines ? 1 : 0, $0.baseAddress, count) }) == 0,
            let bytes = try? KernelBTF.bytes(id: btfID), let btf = try? BTF(bytes: bytes)
        else { return nil }
        return (records, btf)
    }

    /// The name of the program's first function in its BTF.
    private static func functionName(fd: Int32, btfID: UInt32, records: UInt32) -> String? {
        btfRecords(fd: fd, btfID: btfID, lines: false, count: records).map { records, btf in btf.name(ofType: Int(records[1])) }
    }

    /// Each function's prototype by the index of its first instruction, from the program's BTF
    /// function info (`int handler(struct xdp_md * ctx)`, as bpftool prints it); empty without.
    public static func functionPrototypes(fd: Int32) -> [Int: String] {
        guard let s = try? summary(fd: fd), let (records, btf) = btfRecords(fd: fd, btfID: s.btf_id, lines: false, count: s.nr_func_info) else {
            return [:]
        }
        var prototypes: [Int: String] = [:]
        for i in 0..<Int(s.nr_func_info) { prototypes[Int(records[i * 2])] = btf.prototypeText(function: records[i * 2 + 1]) }
        return prototypes
    }

    /// The C source line each instruction (by index) starts, from the program's BTF line info,
    /// as `bpftool prog dump xlated` prints them; empty without line info.
    public static func sourceLines(fd: Int32) -> [Int: String] {
        guard let s = try? summary(fd: fd), let (records, btf) = btfRecords(fd: fd, btfID: s.btf_id, lines: true, count: s.nr_line_info) else {
            return [:]
        }
        var lines: [Int: String] = [:]
        for i in 0..<Int(s.nr_line_info) {
            let text = btf.name(records[i * 4 + 2])
            if !text.isEmpty { lines[Int(records[i * 4])] = text }
        }
        return lines
    }

    /// A loaded program's instructions as the kernel keeps them (after its rewrites: map
    /// references as map ids... as `bpftool prog dump xlated` shows them) and the ids of the maps
    /// it uses.
    public static func contents(fd: Int32) throws(KernelError) -> (instructions: [Instruction], mapIDs: [UInt32]) {
        let info = try summary(fd: fd)
        var bytes = [UInt8](repeating: 0, count: Int(info.xlated_len))
        var ids = [UInt32](repeating: 0, count: Int(info.nr_map_ids))
        let r = bytes.withUnsafeMutableBytes { b in
            ids.withUnsafeMutableBufferPointer { cbpf_prog_contents(fd, b.baseAddress, UInt32(b.count), $0.baseAddress, UInt32($0.count)) }
        }
        guard r == 0 else { throw KernelError(command: "BPF_OBJ_GET_INFO_BY_FD", errno: -r) }
        let instructions = stride(from: 0, to: bytes.count - bytes.count % 8, by: 8).map { Instruction(bytes: bytes, at: $0) }
        return (instructions, ids)
    }

    /// The file descriptor of the program, map, link or BTF object (`kind` 0 to 3) that `selector`
    /// names: `id N`, `pinned PATH` or (for programs and maps) `name NAME`, as bpftool takes them.
    public static func descriptor(kind: Int32, selector: String, _ value: String) throws(KernelError) -> Int32 {
        let what = ["program", "map", "link", "BTF object"][Int(kind)]
        switch selector {
        case "id":
            guard let id = UInt32(value) else { throw .noSuchObject("'\(value)' is not a \(what) id") }
            let fd = cbpf_fd_by_id(kind, id)
            guard fd >= 0 else {
                throw KernelError(
                    command: ["BPF_PROG_GET_FD_BY_ID", "BPF_MAP_GET_FD_BY_ID", "BPF_LINK_GET_FD_BY_ID", "BPF_BTF_GET_FD_BY_ID"][Int(kind)] + " \(id)",
                    errno: -fd)
            }
            return fd
        case "pinned":
            let fd = cbpf_obj_get(value)
            guard fd >= 0 else { throw KernelError(command: "BPF_OBJ_GET (\(value))", errno: -fd) }
            return fd
        case "name" where kind < 2:
            let matches = kind == 0 ? try programs().filter { $0.name == value }.map(\.id) : try maps().filter { $0.name == value }.map(\.id)
            guard matches.count == 1 else {
                throw .noSuchObject(matches.isEmpty ? "no \(what) is named '\(value)'" : "\(matches.count) \(what)s are named '\(value)': ids \(matches)")
            }
            return try descriptor(kind: kind, selector: "id", String(matches[0]))
        default:
            throw .noSuchObject("'\(selector)': name a \(what) by id, pinned\(kind < 2 ? " or name" : "")")
        }
    }

    /// Every map in the kernel.
    public static func maps() throws(KernelError) -> [MapInfo] {
        try every(kind: 1, map)
    }

    /// What the kernel says of the map behind `fd`, or nil when it will not say.
    public static func map(fd: Int32) -> MapInfo? { try? mapInfo(fd: fd) }

    /// What the kernel says of the map behind `fd`.
    static func mapInfo(fd: Int32) throws(KernelError) -> MapInfo {
        var s = cbpf_map_summary()
        let r = cbpf_map_info(fd, &s)
        guard r == 0 else { throw KernelError(command: "BPF_OBJ_GET_INFO_BY_FD", errno: -r) }
        let name = withUnsafeBytes(of: s.name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return MapInfo(
            id: s.id, type: MapType(rawValue: s.type), name: name, keySize: s.key_size, valueSize: s.value_size, maxEntries: s.max_entries,
            flags: MapFlags(rawValue: s.flags), btfID: s.btf_id, keyTypeID: s.btf_key_type_id, valueTypeID: s.btf_value_type_id)
    }
}

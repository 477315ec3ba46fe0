public import BPFCore
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

    /// Ids of programs (kind 0) or maps (kind 1), ascending.
    static func ids(kind: Int32) throws(KernelError) -> [UInt32] {
        var out: [UInt32] = []
        var current: UInt32 = 0
        while true {
            var next: UInt32 = 0
            let r = cbpf_next_id(kind, current, &next)
            if r == -Int32(ENOENT) { return out }
            guard r == 0 else { throw KernelError(command: kind == 0 ? "BPF_PROG_GET_NEXT_ID" : "BPF_MAP_GET_NEXT_ID", errno: -r) }
            out.append(next)
            current = next
        }
    }

    /// Every loaded program. One that goes away while being listed is skipped.
    public static func programs() throws(KernelError) -> [ProgramInfo] {
        try ids(kind: 0).compactMap { id in
            let fd = cbpf_fd_by_id(0, id)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            return program(fd: fd)
        }
    }

    /// What the kernel says of the program behind `fd`, or nil when it will not say.
    public static func program(fd: Int32) -> ProgramInfo? {
        var s = cbpf_prog_summary()
        guard cbpf_prog_info(fd, &s) == 0 else { return nil }
        let name = withUnsafeBytes(of: s.name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let tag = withUnsafeBytes(of: s.tag) { hexString($0) }
        return ProgramInfo(
            id: s.id, type: ProgramType(rawValue: s.type), name: name, tag: tag, translatedBytes: s.xlated_len,
            jitedBytes: s.jited_len, mapCount: s.nr_map_ids, createdByUID: s.created_by_uid,
            btfID: s.btf_id, functionInfoCount: s.nr_func_info, lineInfoCount: s.nr_line_info)
    }

    /// Every map in the kernel.
    public static func maps() throws(KernelError) -> [MapInfo] {
        try ids(kind: 1).compactMap { id in
            let fd = cbpf_fd_by_id(1, id)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            return map(fd: fd)
        }
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

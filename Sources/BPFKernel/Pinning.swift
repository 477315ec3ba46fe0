import BPFCore
import BPFObject
import CBPFShims
import BPFPlatform

/// Pinning in the BPF filesystem: a pinned map, program or link outlives every descriptor
/// and the process that made it, until its pin is unlinked.
public enum Pinning {
    /// Where bpffs is mounted; mounted there on first use when absent.
    public static let root = "/sys/fs/bpf"

    /// Checks (once a process) that bpffs is mounted at ``root``, mounting it when it is not.
    static func ensureMounted() { _ = mounted }
    private static let mounted = cbpf_mount_bpffs()

    /// Creates the directory `path` inside bpffs, and its parents, when they do not exist
    /// (as libbpf does for the directory it pins under).
    public static func makeDirectory(_ path: String) throws(KernelError) {
        ensureMounted()
        guard makeDirectories(path) else { throw KernelError(command: "mkdir (\(path))", errno: errno) }
    }

    /// Pins `fd` at `path` (inside bpffs).
    public static func pin(_ fd: Int32, at path: String) throws(KernelError) {
        ensureMounted()
        let r = cbpf_obj_pin(fd, path)
        guard r == 0 else { throw KernelError(command: "BPF_OBJ_PIN (\(path))", errno: -r) }
    }

    /// A new descriptor for the object pinned at `path`.
    static func open(_ path: String) throws(KernelError) -> Int32 {
        ensureMounted()
        let fd = cbpf_obj_get(path)
        guard fd >= 0 else { throw KernelError(command: "BPF_OBJ_GET (\(path))", errno: -fd) }
        return fd
    }

    /// Removes the pin at `path` (the object lives on while descriptors remain).
    public static func unpin(_ path: String) throws(KernelError) {
        guard unlink(path) == 0 else { throw KernelError(command: "unlink (\(path))", errno: errno) }
    }
}

extension KernelProgram {
    /// Pins the program at `path`: it stays loaded after every descriptor is closed.
    public func pin(at path: String) throws(KernelError) { try Pinning.pin(fd, at: path) }

    /// Opens the program pinned at `path`, learning its type from the kernel.
    public convenience init(pinnedAt path: String) throws(KernelError) {
        let fd = try Pinning.open(path)
        var summary = cbpf_prog_summary()
        let r = cbpf_prog_info(fd, &summary)
        guard r == 0, let type = ProgramType(rawValue: summary.type) else {
            close(fd)
            throw KernelError(command: "BPF_OBJ_GET_INFO_BY_FD (\(path))", errno: r < 0 ? -r : EINVAL)
        }
        self.init(adopting: fd, type: type)
    }
}

extension KernelMap {
    /// Pins the map at `path`.
    public func pin(at path: String) throws(KernelError) { try Pinning.pin(fd, at: path) }

    /// Opens the map pinned at `path`, learning its shape from the kernel.
    public convenience init(pinnedAt path: String) throws(KernelError) {
        try self.init(describing: try Pinning.open(path), source: path)
    }

    /// Opens the map with kernel id `id`.
    public convenience init(id: UInt32) throws(KernelError) {
        let fd = cbpf_fd_by_id(1, id)
        guard fd >= 0 else { throw KernelError(command: "BPF_MAP_GET_FD_BY_ID (\(id))", errno: -fd) }
        try self.init(describing: fd, source: "map \(id)")
    }

    /// Adopts `fd` (an open map descriptor, closed with the map), asking the kernel for the
    /// map's shape and BTF types.
    public convenience init(adopting fd: Int32) throws(KernelError) { try self.init(describing: fd, source: "map fd \(fd)") }

    /// Adopts `fd`, asking the kernel for the map's shape and BTF types.
    convenience init(describing fd: Int32, source path: String) throws(KernelError) {
        let info: Inventory.MapInfo
        do { info = try Inventory.mapInfo(fd: fd) } catch {
            close(fd)
            throw .refused(operation: "BPF_OBJ_GET_INFO_BY_FD (\(path))", errno: error.errno ?? .EINVAL, log: nil)
        }
        var definition = MapDefinition(
            name: info.name, type: info.type, keySize: Int(info.keySize), valueSize: Int(info.valueSize),
            maxEntries: Int(info.maxEntries), flags: info.flags, section: "", offset: 0)
        (definition.keyTypeID, definition.valueTypeID) = (info.keyTypeID, info.valueTypeID)
        self.init(adopting: fd, definition: definition)
    }
}

extension KernelObject {
    /// Pins the object under `directory` in bpffs (made when absent), as `bpftool prog loadall
    /// … pinmaps` and `swiftbpf load --pin` do: each map as its name (dots made underscores, as
    /// libbpf does), each of `programs` as its name, each link as its program's name and `_link`
    /// (see ``KernelLink/persist(at:)`` for attachments that have no link).
    /// - Returns: how each link outlives this process, by program name.
    public func pin(under directory: String, programs: [KernelProgram], links: [(program: String, link: any KernelLink)] = []) throws(KernelError) -> [(
        program: String, persistence: LinkPersistence
    )] {
        try Pinning.makeDirectory(directory)
        // bpffs refuses dots in names (EPERM): libbpf pins `.rodata.str1.1` as `_rodata_str1_1`.
        for map in maps { try map.pin(at: directory + "/" + map.definition.name.replacing(".", with: "_")) }
        for (index, program) in programs.enumerated() { try program.pin(at: directory + "/" + (program.name ?? "program\(index)")) }
        var outcomes: [(program: String, persistence: LinkPersistence)] = []
        for (program, link) in links { outcomes.append((program, try link.persist(at: directory + "/" + program + "_link"))) }
        return outcomes
    }
}

public import BPFCore
public import BPFKernel

/// An object whose maps exist on a backend; its programs load when first asked for.
/// ``OpenedObject/load(on:options:)`` makes one.
public protocol LoadedObject: AnyObject {
    /// The backend the object is loaded on.
    var backend: Backend { get }
    /// The object's programs, by name, in the object's order.
    var programNames: [String] { get }
    /// The object's maps (global data as `.data`, `.rodata`, `.bss`), in the object's order.
    var maps: [any LoadedMap] { get }
    /// The program named `name` (the only one when nil), loaded on first use: verified,
    /// relocated, and ready to run or attach.
    func program(named name: String?) throws(BPFError) -> any LoadedProgram
}

extension LoadedObject {
    /// The map named `name`.
    public func map(named name: String) throws(BPFError) -> any LoadedMap {
        guard let map = maps.first(where: { $0.name == name }) else { throw .notFound(name, available: maps.map(\.name)) }
        return map
    }

    /// The only program of the object.
    public func program() throws(BPFError) -> any LoadedProgram { try program(named: nil) }
}

/// A program loaded on a backend.
public protocol LoadedProgram: AnyObject {
    var name: String { get }
    /// The section it came from, which says where it attaches.
    var section: String { get }
    var type: ProgramType { get }
    /// Runs the program `count` times on a copy of `data` (a packet; a tracepoint program's
    /// record), as `BPF_PROG_TEST_RUN` does: the return value, the data afterwards, the mean
    /// time per run.
    func testRun(data: [UInt8], repeat count: Int) throws(BPFError) -> TestRunResult
    /// Attaches the program where its section says (see ``BPFKernel/KernelProgram/attach(_:)``).
    func attach(_ options: AttachOptions) throws(BPFError) -> any BPFLink
}

extension LoadedProgram {
    /// Runs the program once on a copy of `data`.
    public func testRun(data: [UInt8]) throws(BPFError) -> TestRunResult { try testRun(data: data, repeat: 1) }
    /// Attaches the program where its section says, with no interface.
    public func attach() throws(BPFError) -> any BPFLink { try attach(AttachOptions()) }
}

/// A map on a backend, read and written by key and value bytes as `bpf(2)` does.
public protocol LoadedMap: AnyObject {
    var name: String { get }
    var shape: MapShape { get }
    /// The value under `key` (every CPU's, each padded to 8 bytes, for per-CPU maps on the
    /// kernel), or nil when there is none.
    func lookup(_ key: [UInt8]) throws(BPFError) -> [UInt8]?
    func update(_ key: [UInt8], _ value: [UInt8], flags: UpdateFlags) throws(BPFError)
    func delete(_ key: [UInt8]) throws(BPFError)
    /// Every key, in the map's iteration order.
    func keys() throws(BPFError) -> [[UInt8]]
}

extension LoadedMap {
    /// Stores `value` under `key`, creating or replacing it.
    public func update(_ key: [UInt8], _ value: [UInt8]) throws(BPFError) { try update(key, value, flags: .any) }
}

/// A program attached to a hook; releasing the value detaches it unless ``persist(at:)`` made
/// the attachment outlive it.
public protocol BPFLink: AnyObject {
    /// What is attached where: `tracepoint syscalls/sys_enter_execve`, `xdp on eth0`.
    var summary: String { get }
    /// Makes the attachment outlive this value where the backend allows: a pinned bpf_link in
    /// the kernel, a pin in the ``BPFRuntime/UserspaceRuntime`` in user space.
    func persist(at path: String) throws(BPFError) -> LinkPersistence
    /// Makes the attachment run `program` (loaded on the same backend) from now on,
    /// atomically: every event runs the old program or the new one, never neither or both.
    /// The kernel does it with `BPF_LINK_UPDATE` (XDP, tcx and cgroup links), the userspace
    /// runtime for every hook link.
    func update(program: any LoadedProgram) throws(BPFError)
}

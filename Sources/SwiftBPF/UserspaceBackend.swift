import BPFCore
import BPFKernel
import BPFMaps
import BPFObject
public import BPFRuntime
import BTF

/// The userspace runtime behind the front's protocols.
final class UserspaceLoadedObject: LoadedObject {
    let runtime: UserspaceObject
    private let target: BTF?, verify: Bool
    private var loaded: [String: UserspaceLoadedProgram] = [:]
    let maps: [any LoadedMap]

    /// Where its programs attach and its links are pinned.
    let namespace: UserspaceRuntime

    init(_ file: ObjectFile, target: BTF?, verify: Bool, namespace: UserspaceRuntime) throws(BPFError) {
        do { runtime = try UserspaceObject(file) } catch { throw .runtime(error) }
        self.namespace = namespace
        self.target = target
        self.verify = verify
        maps = runtime.maps.map(UserspaceLoadedMap.init)
    }

    var backend: Backend { .userspace }
    var programNames: [String] { runtime.object.programs.map(\.name) }

    func program(named name: String?) throws(BPFError) -> any LoadedProgram {
        let key = name ?? ""
        if let program = loaded[key] { return program }
        do {
            let program = UserspaceLoadedProgram(try runtime.load(program: name, target: target, verify: verify), namespace: namespace)
            loaded[key] = program
            return program
        } catch { throw .runtime(error) }
    }
}

final class UserspaceLoadedProgram: LoadedProgram {
    let program: UserspaceProgram
    let namespace: UserspaceRuntime
    init(_ program: UserspaceProgram, namespace: UserspaceRuntime) {
        self.program = program
        self.namespace = namespace
    }

    var name: String { program.name }
    var section: String { program.section }
    var type: ProgramType { program.type }

    func testRun(data: [UInt8], repeat count: Int) throws(BPFError) -> TestRunResult {
        do { return try program.testRun(data: data, repeat: count) } catch { throw .execution(error) }
    }

    /// Attaches to the hook the section (or ``BPFKernel/AttachOptions/probe``) names
    /// (`raw_tp/NAME`, `usdt/BINARY:PROVIDER:NAME`) among those declared in ``LoadOptions/runtime``.
    func attach(_ options: AttachOptions) throws(BPFError) -> any BPFLink {
        guard options.interface == nil else {
            throw .unsupported(backend: .userspace, "program \(name): the userspace runtime has no network interfaces; run it with testRun")
        }
        do { return UserspaceBackedLink(try namespace.attach(program, probe: options.probe), namespace: namespace) } catch { throw .runtime(error) }
    }
}

/// A hook link of the userspace runtime behind the front's link.
final class UserspaceBackedLink: BPFLink {
    let link: HookLink
    let namespace: UserspaceRuntime
    init(_ link: HookLink, namespace: UserspaceRuntime) {
        self.link = link
        self.namespace = namespace
    }

    var summary: String { link.summary }
    func persist(at path: String) throws(BPFError) -> LinkPersistence {
        do { try namespace.pin(.link(link), at: path) } catch { throw .runtime(error) }
        return .pinned(path)
    }
    func update(program: any LoadedProgram) throws(BPFError) {
        guard let replacement = program.userspaceProgram else {
            throw .unsupported(backend: .userspace, "program \(program.name) is loaded in the kernel; a userspace link runs userspace programs")
        }
        do { try link.update(program: replacement) } catch { throw .runtime(error) }
    }
}

final class UserspaceLoadedMap: LoadedMap {
    let map: BPFMap
    init(_ map: BPFMap) { self.map = map }

    var name: String { map.name }
    var shape: MapShape { map.shape }
    func lookup(_ key: [UInt8]) throws(BPFError) -> [UInt8]? {
        do { return try map.lookup(key) } catch { throw .map(error) }
    }
    func update(_ key: [UInt8], _ value: [UInt8], flags: UpdateFlags) throws(BPFError) {
        do { try map.update(key, value, flags: flags) } catch { throw .map(error) }
    }
    func delete(_ key: [UInt8]) throws(BPFError) {
        do { try map.delete(key) } catch { throw .map(error) }
    }
    func keys() throws(BPFError) -> [[UInt8]] { map.keys() }
}

extension LoadedProgram {
    /// The userspace runtime's program behind this one, for what only that backend has
    /// (engines, execution modes, tracepoint records); nil on the kernel.
    public var userspaceProgram: UserspaceProgram? { (self as? UserspaceLoadedProgram)?.program }
}

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

    init(_ file: ObjectFile, target: BTF?, verify: Bool) throws(BPFError) {
        do { runtime = try UserspaceObject(file) } catch { throw .runtime(error) }
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
            let program = UserspaceLoadedProgram(try runtime.load(program: name, target: target, verify: verify))
            loaded[key] = program
            return program
        } catch { throw .runtime(error) }
    }
}

final class UserspaceLoadedProgram: LoadedProgram {
    let program: UserspaceProgram
    init(_ program: UserspaceProgram) { self.program = program }

    var name: String { program.name }
    var section: String { program.section }
    var type: ProgramType { program.type }

    func testRun(data: [UInt8], repeat count: Int) throws(BPFError) -> TestRunResult {
        do { return try program.testRun(data: data, repeat: count) } catch { throw .execution(error) }
    }

    func attach(_ options: AttachOptions) throws(BPFError) -> any BPFLink {
        throw .unsupported(backend: .userspace, "program \(name): the userspace runtime has no hooks to attach to yet; run it with testRun")
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

import BPFCore
public import BPFKernel
import BPFObject
import BTF

/// The running kernel behind the front's protocols.
final class KernelLoadedObject: LoadedObject {
    let kernel: KernelObject
    private let target: BTF?
    private var loaded: [String: KernelLoadedProgram] = [:]
    let maps: [any LoadedMap]

    init(_ file: ObjectFile, target: BTF?) throws(BPFError) {
        do { kernel = try KernelObject(file) } catch {
            // Whether bpf(2) may be used at all is probed only after a failure.
            if let reason = KernelSupport.unavailableReason { throw .unsupported(backend: .kernel, reason) }
            throw .kernel(error)
        }
        self.target = target
        maps = kernel.maps.map(KernelLoadedMap.init)
    }

    var backend: Backend { .kernel }
    var programNames: [String] { kernel.object.programs.map(\.name) }

    func program(named name: String?) throws(BPFError) -> any LoadedProgram {
        let key = name ?? ""
        if let program = loaded[key] { return program }
        do {
            let program = KernelLoadedProgram(try kernel.load(program: name, target: target))
            loaded[key] = program
            return program
        } catch { throw .kernel(error) }
    }
}

final class KernelLoadedProgram: LoadedProgram {
    let program: KernelProgram
    init(_ program: KernelProgram) { self.program = program }

    var name: String { program.name ?? "" }
    var section: String { program.section ?? "" }
    var type: ProgramType { program.type }

    func testRun(data: [UInt8], repeat count: Int) throws(BPFError) -> TestRunResult {
        guard let runs = UInt32(exactly: max(count, 1)) else { throw .unsupported(backend: .kernel, "repeat \(count): the kernel counts runs in 32 bits") }
        do { return try program.testRun(data: data, repeat: runs) } catch { throw .kernel(error) }
    }

    func attach(_ options: AttachOptions) throws(BPFError) -> any BPFLink {
        do { return KernelBackedLink(try program.attach(options)) } catch { throw .kernel(error) }
    }
}

final class KernelLoadedMap: LoadedMap {
    let map: KernelMap
    init(_ map: KernelMap) { self.map = map }

    var name: String { map.definition.name }
    var shape: MapShape { map.definition.shape }
    func lookup(_ key: [UInt8]) throws(BPFError) -> [UInt8]? {
        do { return try map.lookup(key) } catch { throw .kernel(error) }
    }
    func update(_ key: [UInt8], _ value: [UInt8], flags: UpdateFlags) throws(BPFError) {
        do { try map.update(key, value, flags: flags.rawValue) } catch { throw .kernel(error) }
    }
    func delete(_ key: [UInt8]) throws(BPFError) {
        do { try map.delete(key) } catch { throw .kernel(error) }
    }
    func keys() throws(BPFError) -> [[UInt8]] {
        do { return try map.keys() } catch { throw .kernel(error) }
    }
}

final class KernelBackedLink: BPFLink {
    let link: any KernelLink
    init(_ link: any KernelLink) { self.link = link }

    var summary: String { link.summary }
    func persist(at path: String) throws(BPFError) -> LinkPersistence {
        do { return try link.persist(at: path) } catch { throw .kernel(error) }
    }
    func update(program: any LoadedProgram) throws(BPFError) {
        guard let replacement = program.kernelProgram else {
            throw .unsupported(backend: .kernel, "program \(program.name) is loaded in the userspace runtime; a kernel link runs kernel programs")
        }
        do { try link.update(program: replacement) } catch { throw .kernel(error) }
    }
}

extension LoadedProgram {
    /// The kernel's program behind this one, for what only that backend has (its descriptor,
    /// pinning, attaching by hand); nil on the userspace runtime.
    public var kernelProgram: KernelProgram? { (self as? KernelLoadedProgram)?.program }
}

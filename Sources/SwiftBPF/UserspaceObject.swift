import BPFCore
public import BPFMaps
public import BPFObject
public import BPFVM
public import BTF
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An object file loaded into the userspace runtime: its maps created as ``BPFMap``s, and its
/// programs prepared on request — map references relocated to the maps, context accesses
/// converted to the runtime's layout, helpers bound.
public final class UserspaceObject {
    /// The parsed object.
    public let object: ObjectFile
    /// The maps, in the object's order.
    public let maps: [BPFMap]

    /// A failure to prepare a program for the userspace runtime, naming the program.
    public struct LoadError: Error, Sendable, CustomStringConvertible {
        public var program: String
        public var message: String
        /// The verifier's refusal, when that is why the program did not load.
        public var verification: VerificationError?

        public init(program: String, message: String) {
            self.program = program
            self.message = message
        }
        public var description: String { "program \(program): \(message)" }
    }

    /// Creates every map the object declares.
    public init(_ object: ObjectFile) throws(MapError) {
        self.object = object
        var maps: [BPFMap] = []
        for d in object.maps {
            let map = try BPFMap.make(name: d.name, shape: d.shape)
            if let initial = d.initialValue { try map.update([0, 0, 0, 0], initial) }
            maps.append(map)
        }
        self.maps = maps
    }

    /// How ``load(program:target:)`` compiles programs for ``ExecutionMode/jit`` (on x86-64
    /// hosts every loaded program is also compiled).
    public var jitOptions = JITProgram.Options()

    /// The map named `name`.
    public func map(named name: String) -> BPFMap? { maps.first { $0.name == name } }

    /// Puts `program` (nil: nothing) in slot `index` of the program array `map`, for
    /// `bpf_tail_call`.
    public func setTailCall(map name: String, index: Int, to program: UserspaceProgram?) throws(MapError) {
        guard let array = map(named: name) as? ProgramArrayMap else { throw MapError(errno: 22, "\(name): not a program array (EINVAL)") }
        try array.set(index, handle: program?.interpreter.entryHandle ?? 0, owner: program)
    }

    /// Prepares program `name` (the only one when nil), CO-RE relocated against `target` when
    /// given (the BTF of the kernel whose data the program will read).
    ///
    /// The verifier proves the program safe first, and a program it refuses is not loaded
    /// (``LoadError/verification`` says why). `verify: false` skips the proof: only checked
    /// execution is then safe.
    public func load(program name: String? = nil, target: BTF? = nil, verify: Bool = true) throws(LoadError) -> UserspaceProgram {
        let (program, kind, linked) = try prepare(name, target: target)
        guard [.xdp, .socketFilter, .schedCLS, .schedACT, .cgroupSKB, .tracepoint].contains(kind.type) else {
            throw LoadError(program: program.name, message: "\(kind.type) programs need a context the userspace runtime does not build yet (XDP, socket filters, tc, cgroup_skb and tracepoints are supported)")
        }
        let report = verify ? try Self.verify(program, kind.type, linked, maps: object.maps, log: false) : nil
        var code = linked.instructions
        for reference in linked.mapReferences {
            let map = maps[reference.map]
            var address = UInt64(UInt(bitPattern: Unmanaged.passUnretained(map).toOpaque()))
            if let offset = reference.valueOffset {
                address = UInt64(UInt(bitPattern: map.storage.baseAddress)) + UInt64(offset)  // the single value
            }
            let i = reference.instruction
            code[i].src = WideImmediateKind.immediate.rawValue
            code[i].imm = Int32(truncatingIfNeeded: address)
            code[i + 1].imm = Int32(truncatingIfNeeded: address >> 32)
        }
        if kind.type != .tracepoint {
            let fields = switch kind.type {
            case .xdp: ContextConversion.xdp
            case .socketFilter: ContextConversion.socketFilter
            case .cgroupSKB: ContextConversion.cgroupSKB
            default: ContextConversion.tc
            }
            do { code = try ContextConversion.convert(code, fields: fields) } catch {
                throw LoadError(program: program.name, message: error.description)
            }
        }
        var helpers = HelperTable.standard
        helpers.registerMapHelpers()
        helpers.registerRingBufferHelpers()
        helpers.registerSpinLockHelpers()
        helpers.registerTracePrintk()
        if kind.type == .xdp {
            helpers.registerXDPHelpers()
            helpers.registerChecksumHelpers()
        }
        let interpreter: Interpreter
        var jit: JITProgram?
        do {
            interpreter = try Interpreter(code, helpers: helpers, maps: maps)
            if JITProgram.isSupported {
                let compiled = try JITProgram(code, helpers: helpers, maps: maps, options: jitOptions)
                interpreter.setNativeEntry(compiled.nativeEntry)  // tail calls from compiled code land there
                jit = compiled
            }
        } catch { throw LoadError(program: program.name, message: error.description) }
        return UserspaceProgram(name: program.name, type: kind.type, interpreter: interpreter, jit: jit, object: self, verification: report)
    }
}

/// A program ready to run in the userspace runtime.
public final class UserspaceProgram {
    public let name: String
    /// The program type, which decides its context.
    public let type: ProgramType
    let interpreter: Interpreter
    /// The program compiled to native code, on hosts with a JIT.
    public let jit: JITProgram?
    /// Keeps the maps alive as long as the program may run.
    let object: UserspaceObject
    /// The verifier's report, when the program was verified at load.
    public let verification: VerifierReport?

    /// Where the program's `bpf_printk` (`bpf_trace_printk`) lines go, one call each, formatted
    /// as the kernel formats them for its trace pipe; nil (the default) drops them.
    public var traceOutput: ((String) -> Void)? {
        didSet { updateHelperContext { $0.trace = traceOutput } }
    }

    /// How runs execute when no mode is given: a program the verifier proved safe runs as
    /// native code (in the fast interpreter on hosts without a JIT); one loaded with
    /// `verify: false` runs checked, every access bounds-checked.
    public var defaultMode: ExecutionMode {
        guard verification != nil else { return .checked() }
        return jit != nil ? .jit : .fast
    }
    /// The object's ring buffers, for the ring buffer helpers, and all its maps, for checked
    /// mode's argument checks (addresses of the ``BPFMap`` objects).
    private let ringBuffers: UnsafeMutableBufferPointer<UInt64>
    private let mapAddresses: UnsafeMutableBufferPointer<UInt64>

    init(name: String, type: ProgramType, interpreter: Interpreter, jit: JITProgram?, object: UserspaceObject, verification: VerifierReport?) {
        self.verification = verification
        self.name = name
        self.type = type
        self.interpreter = interpreter
        self.jit = jit
        self.object = object
        func address(_ map: BPFMap) -> UInt64 { UInt64(UInt(bitPattern: Unmanaged.passUnretained(map).toOpaque())) }
        let rings = object.maps.filter { $0.shape.type == MapType.ringbuf }
        ringBuffers = .allocate(capacity: rings.count)
        _ = ringBuffers.initialize(from: rings.map(address))
        mapAddresses = .allocate(capacity: object.maps.count)
        _ = mapAddresses.initialize(from: object.maps.map(address))
        updateHelperContext {
            $0.ringBuffers = UnsafeBufferPointer(ringBuffers)
            $0.maps = UnsafeBufferPointer(mapAddresses)
        }
    }

    /// Changes the helper context of every engine the program has.
    private func updateHelperContext(_ change: (inout HelperContext) -> Void) {
        change(&interpreter.helperContextValue)
        if let jit { change(&jit.helperContextValue) }
    }

    deinit {
        ringBuffers.deallocate()
        mapAddresses.deallocate()
    }

    /// The regions checked execution lets the program touch besides its stack and context:
    /// every map's storage, read-only where the object says so.
    private var mapRegions: [MemoryRegion] {
        let readOnly = Set(object.object.maps.filter(\.readOnly).map(\.name))
        return object.maps.map { MemoryRegion($0.storage, writable: !readOnly.contains($0.name)) }
    }

    /// A socket filter, cgroup or tc program over the frame `packet`, as the kernel's test run
    /// presents it (see ``SocketBufferContext/init(frame:ifindex:l2:)``): read-only to socket
    /// filters and cgroup programs, writable from its Ethernet header on to a tc program.
    private func socketBufferRun(packet: [UInt8], repeat count: Int, mode: ExecutionMode) throws(ExecutionError) -> TestRunResult {
        let data = UnsafeMutableRawBufferPointer.allocate(byteCount: max(packet.count, 1), alignment: 16)
        defer { data.deallocate() }
        packet.withUnsafeBytes { data.copyMemory(from: $0) }
        let tc = type == .schedCLS || type == .schedACT
        var context = SocketBufferContext(frame: UnsafeRawBufferPointer(start: data.baseAddress, count: packet.count), l2: tc)
        let packetRegion = MemoryRegion(UnsafeMutableRawBufferPointer(start: data.baseAddress, count: packet.count), writable: tc)
        let (r0, nanoseconds) = try withUnsafeMutableBytes(of: &context) { (ctx) throws(ExecutionError) in
            try repeatedRuns(context: ctx, count: count, mode: mode, regions: [packetRegion] + mapRegions, contextWritable: true)
        }
        return TestRunResult(returnValue: UInt32(truncatingIfNeeded: r0), data: Array(UnsafeRawBufferPointer(start: data.baseAddress, count: packet.count)),
                             nanosecondsPerRun: nanoseconds)
    }

    /// Runs the program `count` times with r1 = `context` (shared by the repeats as in the
    /// kernel's test run; writable where the program type has writable fields, which context
    /// conversion alone lets stores reach); returns the last r0 and the mean ns per run.
    private func repeatedRuns(context: UnsafeMutableRawBufferPointer, count: Int, mode: ExecutionMode,
                              regions: [MemoryRegion], contextWritable: Bool = false) throws(ExecutionError) -> (UInt64, Double) {
        let address = UInt64(UInt(bitPattern: context.baseAddress))
        let regions = regions + [MemoryRegion(context, writable: contextWritable)]
        updateHelperContext { $0.contextAddress = address }
        var r0: UInt64 = 0
        var ts = timespec(), te = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        if mode == .jit, let jit {
            for _ in 0..<max(count, 1) { r0 = try jit.run(address) }
        } else {
            for _ in 0..<max(count, 1) { r0 = try interpreter.run(address, mode: mode, regions: regions) }
        }
        clock_gettime(CLOCK_MONOTONIC, &te)
        let elapsed = Double(te.tv_sec - ts.tv_sec) * 1e9 + Double(te.tv_nsec - ts.tv_nsec)
        return (r0, elapsed / Double(max(count, 1)))
    }

    /// Runs a tracing program on `record`, the tracepoint's raw record as the kernel passes it.
    /// - Parameters:
    ///   - readable: host memory the probe-read helpers may copy from (the user and kernel
    ///     memory the record's pointers refer to); everything else reads as `-EFAULT`.
    ///   - task: what the `get_current_*` helpers report (default: this process).
    ///   - mode: the engine (nil: ``defaultMode``).
    /// - Returns: r0.
    public func run(record: [UInt8], readable: [UnsafeRawBufferPointer] = [], task: TaskInfo = .current,
                    mode: ExecutionMode? = nil) throws(ExecutionError) -> UInt64 {
        let mode = mode ?? defaultMode
        let regions = readable.map { MemoryRegion(start: UInt64(UInt(bitPattern: $0.baseAddress)), length: UInt64($0.count), writable: false) }
        // At least as large as the verifier saw the program reach, zero-filled past the record.
        let context = UnsafeMutableRawBufferPointer.allocate(byteCount: max(record.count, 8, verification?.contextExtent ?? 0), alignment: 16)
        defer { context.deallocate() }
        context.initializeMemory(as: UInt8.self, repeating: 0)
        record.withUnsafeBytes { context.copyMemory(from: $0) }
        return try regions.withUnsafeBufferPointer { (readableRegions) throws(ExecutionError) -> UInt64 in
            updateHelperContext {
                $0.readable = readableRegions
                $0.task = task
            }
            defer { updateHelperContext { $0.readable = UnsafeBufferPointer(start: nil, count: 0) } }
            return try repeatedRuns(context: context, count: 1, mode: mode, regions: mapRegions).0
        }
    }

    /// Bytes before the packet, as the kernel's XDP test run leaves (`XDP_PACKET_HEADROOM`).
    public static let headroom = 256
    /// The frame the kernel's test run builds: a page, whose last bytes hold `skb_shared_info`.
    static let frameSize = 4096, sharedInfo = 320

    /// Runs the XDP program, socket filter or tc program `count` times on a copy of `packet`, in `mode`
    /// (nil: ``defaultMode``).
    public func testRun(data packet: [UInt8], repeat count: Int = 1, mode: ExecutionMode? = nil) throws(ExecutionError) -> TestRunResult {
        let mode = mode ?? defaultMode
        if type != .xdp { return try socketBufferRun(packet: packet, repeat: count, mode: mode) }
        let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: max(Self.frameSize, Self.headroom + packet.count + Self.sharedInfo), alignment: 16)
        defer { frame.deallocate() }
        let hardStart = UInt64(UInt(bitPattern: frame.baseAddress))
        let start = hardStart + UInt64(Self.headroom)
        var context = XDPContext(data: start, dataEnd: start + UInt64(packet.count), hardStart: hardStart,
                                 hardEnd: hardStart + UInt64(frame.count - Self.sharedInfo))
        frame.initializeMemory(as: UInt8.self, repeating: 0)
        packet.withUnsafeBytes { (frame.baseAddress! + Self.headroom).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        // The packet may move within the frame, so the whole frame is the program's region.
        let (r0, nanoseconds) = try withUnsafeMutableBytes(of: &context) { (ctx) throws(ExecutionError) in
            try repeatedRuns(context: ctx, count: count, mode: mode, regions: [MemoryRegion(frame)] + mapRegions)
        }
        let data = UnsafeRawPointer(bitPattern: UInt(context.data))!
        return TestRunResult(returnValue: UInt32(truncatingIfNeeded: r0),
                             data: Array(UnsafeRawBufferPointer(start: data, count: Int(context.dataEnd - context.data))),
                             nanosecondsPerRun: nanoseconds)
    }
}

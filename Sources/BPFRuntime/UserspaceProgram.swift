public import BPFCore
import BPFMaps
public import BPFVM
public import BPFVerifier
import BPFPlatform

/// A program ready to run in the userspace runtime.
public final class UserspaceProgram {
    public let name: String
    /// The section the program came from.
    public let section: String
    /// The program type, which decides its context.
    public let type: ProgramType
    let interpreter: Interpreter
    /// The program decoded, from which each execution slot's engines are made.
    let decoded: DecodedProgram
    /// Its runs and their time while statistics are on (see ``StatisticsToken``).
    public let statistics = ProgramStatistics()
    /// The program compiled to native code, on hosts with a JIT.
    public let jit: JITProgram?
    /// Keeps the maps alive as long as the program may run.
    /// The object the program came from, whose maps it uses (nil for raw instructions).
    let object: UserspaceObject?
    /// The verifier's report, when the program was verified at load.
    public let verification: VerifierReport?
    /// Its id in the ``RuntimeInventory`` while it lives.
    public private(set) var id: UInt32 = 0

    /// Where the program's `bpf_printk` (`bpf_trace_printk`) lines go, one call each, formatted
    /// as the kernel formats them for its trace pipe; nil (the default) drops them. Links made
    /// to hooks keep the value set when they were made (each has engines of its own).
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

    /// What the runtime provides programs of this type.
    let support: ProgramTypeSupport

    init(
        name: String, section: String, type: ProgramType, support: ProgramTypeSupport, decoded: DecodedProgram, interpreter: Interpreter,
        jit: JITProgram?, object: UserspaceObject?, verification: VerifierReport?
    ) {
        self.verification = verification
        self.decoded = decoded
        self.name = name
        self.section = section
        self.support = support
        self.type = type
        self.interpreter = interpreter
        self.jit = jit
        self.object = object
        func address(_ map: BPFMap) -> UInt64 { UInt64(UInt(bitPattern: Unmanaged.passUnretained(map).toOpaque())) }
        let maps = object?.maps ?? []
        let rings = maps.filter { $0.shape.type == MapType.ringbuf }
        ringBuffers = .allocate(capacity: rings.count)
        _ = ringBuffers.initialize(from: rings.map(address))
        mapAddresses = .allocate(capacity: maps.count)
        _ = mapAddresses.initialize(from: maps.map(address))
        let callbacks = interpreter.helperContextValue.callbacks
        updateHelperContext {
            $0.ringBuffers = UnsafeBufferPointer(ringBuffers)
            $0.maps = UnsafeBufferPointer(mapAddresses)
            $0.callbacks = callbacks  // JIT-compiled code calls back through the interpreter
        }
        id = RuntimeInventory.register(
            RuntimeInventory.Program(
                id: 0, name: name, type: type, section: section, verified: verification != nil,
                translatedBytes: interpreter.instructions.count * 8, jitedBytes: jit?.codeByteCount ?? 0, mapIDs: object?.mapIDs ?? []),
            statistics: statistics)
    }

    /// The program compiled for `architecture` (any, on any host), as the JIT compiles it here:
    /// what `swiftbpf disasm --jited --arch` shows.
    public func nativeCode(for architecture: NativeCode.Architecture, options: JITProgram.Options = .init()) throws(PreparationError) -> NativeCode {
        try NativeCode(try DecodedProgram(interpreter.instructions, helpers: support.helpers), for: architecture, maps: object?.maps ?? [], options: options)
    }

    /// A second set of engines for the program, sharing its maps, ring buffers and trace output:
    /// what one execution slot runs it on, so that threads run the program at once.
    func instance(jitOptions: JITProgram.Options) throws(PreparationError) -> (Interpreter, JITProgram?) {
        let second = Interpreter(decoded, maps: object?.maps ?? [])
        var context = interpreter.helperContextValue
        context.callbacks = second.helperContextValue.callbacks
        second.helperContextValue = context
        guard jit != nil else { return (second, nil) }
        let compiled = try JITProgram(decoded, maps: object?.maps ?? [], options: jitOptions)
        compiled.helperContextValue = context
        second.setNativeEntry(compiled.nativeEntry)
        return (second, compiled)
    }

    /// Changes the helper context of every engine the program has.
    private func updateHelperContext(_ change: (inout HelperContext) -> Void) {
        change(&interpreter.helperContextValue)
        if let jit { change(&jit.helperContextValue) }
    }

    deinit {
        RuntimeInventory.unregister(program: id)
        ringBuffers.deallocate()
        mapAddresses.deallocate()
    }

    /// The regions checked execution lets the program touch besides its stack and context:
    /// every map's storage, read-only where the object says so.
    private var mapRegions: [MemoryRegion] {
        guard let object else { return [] }
        let readOnly = Set(object.object.maps.filter(\.readOnly).map(\.name))
        return object.maps.map { MemoryRegion($0.storage, writable: !readOnly.contains($0.name)) }
    }

    /// A socket filter, cgroup or tc program over the frame `packet`, as the kernel's test run
    /// presents it (see ``SocketBufferContext/init(frame:ifindex:l2:)``): read-only to socket
    /// filters and cgroup programs, writable from its Ethernet header on to a tc program.
    private func socketBufferRun(packet: [UInt8], repeat count: Int, mode: ExecutionMode, writable tc: Bool) throws(ExecutionError) -> TestRunResult {
        let data = UnsafeMutableRawBufferPointer.allocate(byteCount: max(packet.count, 1), alignment: 16)
        defer { data.deallocate() }
        packet.withUnsafeBytes { data.copyMemory(from: $0) }
        var context = SocketBufferContext(frame: UnsafeRawBufferPointer(start: data.baseAddress, count: packet.count), l2: tc)
        let packetRegion = MemoryRegion(UnsafeMutableRawBufferPointer(start: data.baseAddress, count: packet.count), writable: tc)
        let (r0, nanoseconds, redirect) = try withUnsafeMutableBytes(of: &context) { (ctx) throws(ExecutionError) in
            try repeatedRuns(context: ctx, count: count, mode: mode, regions: [packetRegion] + mapRegions, contextWritable: true)
        }
        return TestRunResult(
            returnValue: UInt32(truncatingIfNeeded: r0), data: Array(UnsafeRawBufferPointer(start: data.baseAddress, count: packet.count)),
            nanosecondsPerRun: nanoseconds, redirect: redirect)
    }

    /// Runs the program `count` times with r1 = `context` (shared by the repeats as in the
    /// kernel's test run; writable where the program type has writable fields, which context
    /// conversion alone lets stores reach); returns the last r0, the mean ns per run, and where
    /// the runs redirected the packet.
    private func repeatedRuns(
        context: UnsafeMutableRawBufferPointer, count: Int, mode: ExecutionMode,
        regions: [MemoryRegion], contextWritable: Bool = false
    ) throws(ExecutionError) -> (UInt64, Double, RedirectTarget?) {
        let address = UInt64(UInt(bitPattern: context.baseAddress))
        let regions = regions + [MemoryRegion(context, writable: contextWritable)]
        updateHelperContext {
            $0.contextAddress = address
            $0.redirect = RedirectRecord()
        }
        var r0: UInt64 = 0
        let start = monotonicNanoseconds()
        let redirect: RedirectTarget?
        if mode == .jit, let jit {
            let callsBack = interpreter.callsBack
            for _ in 0..<max(count, 1) {
                r0 = try jit.run(address)
                // Callbacks run on the interpreter; a failure there ends the run.
                if callsBack, let failure = interpreter.takeCallbackFailure() { throw failure }
            }
            redirect = jit.helperContextValue.redirect.target
        } else {
            for _ in 0..<max(count, 1) { r0 = try interpreter.run(address, mode: mode, regions: regions) }
            redirect = interpreter.helperContextValue.redirect.target
        }
        return (r0, Double(monotonicNanoseconds() - start) / Double(max(count, 1)), redirect)
    }

    /// Runs a tracing program on `record`, the tracepoint's raw record as the kernel passes it.
    /// - Parameters:
    ///   - readable: host memory the probe-read helpers may copy from (the user and kernel
    ///     memory the record's pointers refer to); everything else reads as `-EFAULT`.
    ///   - task: what the `get_current_*` helpers report (default: this process).
    ///   - mode: the engine (nil: ``defaultMode``).
    /// - Returns: r0.
    public func run(
        record: [UInt8], readable: [UnsafeRawBufferPointer] = [], task: TaskInfo = .current,
        mode: ExecutionMode? = nil
    ) throws(ExecutionError) -> UInt64 {
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

    /// Runs the program `count` times on a copy of `packet`, in `mode` (nil: ``defaultMode``):
    /// an XDP program on a frame, a socket filter, cgroup or tc program on a socket buffer, as
    /// the kernel's test run builds them; a tracepoint program once, on `packet` as its record.
    public func testRun(data packet: [UInt8], repeat count: Int = 1, mode: ExecutionMode? = nil) throws(ExecutionError) -> TestRunResult {
        let mode = mode ?? defaultMode
        switch support.context {
        case .xdpFrame: break
        case let .socketBuffer(writable): return try socketBufferRun(packet: packet, repeat: count, mode: mode, writable: writable)
        case .record: return TestRunResult(returnValue: UInt32(truncatingIfNeeded: try run(record: packet, mode: mode)), data: packet, nanosecondsPerRun: 0)
        }
        let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: max(Self.frameSize, Self.headroom + packet.count + Self.sharedInfo), alignment: 16)
        defer { frame.deallocate() }
        let hardStart = UInt64(UInt(bitPattern: frame.baseAddress))
        let start = hardStart + UInt64(Self.headroom)
        var context = XDPContext(
            data: start, dataEnd: start + UInt64(packet.count), hardStart: hardStart,
            hardEnd: hardStart + UInt64(frame.count - Self.sharedInfo))
        frame.initializeMemory(as: UInt8.self, repeating: 0)
        packet.withUnsafeBytes { (frame.baseAddress! + Self.headroom).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        // The packet may move within the frame, so the whole frame is the program's region.
        let (r0, nanoseconds, redirect) = try withUnsafeMutableBytes(of: &context) { (ctx) throws(ExecutionError) in
            try repeatedRuns(context: ctx, count: count, mode: mode, regions: [MemoryRegion(frame)] + mapRegions)
        }
        let data = UnsafeRawPointer(bitPattern: UInt(context.data))!
        return TestRunResult(
            returnValue: UInt32(truncatingIfNeeded: r0),
            data: Array(UnsafeRawBufferPointer(start: data, count: Int(context.dataEnd - context.data))),
            nanosecondsPerRun: nanoseconds, redirect: redirect)
    }
}

public import BPFCore
public import BTF
import CBPFShims
import BPFPlatform

/// A program loaded into the running kernel, owning its file descriptor (closed on release).
public final class KernelProgram {
    private let descriptor: Descriptor
    /// The program's file descriptor.
    public var fd: Int32 { descriptor.rawValue }
    /// Its type.
    public let type: ProgramType

    /// The verifier's log, when the program was loaded with a `logLevel` above 0.
    public let verifierLog: String
    /// The program's name in its object, and the section it came from, which says where it
    /// attaches (``attach(_:)``); nil for a program not loaded from an object.
    public internal(set) var name: String?, section: String?
    /// The attach point after the section's prefix (`syscalls/sys_enter_execve`), if any.
    public internal(set) var attachTarget: String?
    /// The attach type it was loaded for (`expected_attach_type`), if any.
    public private(set) var expectedAttachType: AttachType?
    /// Its object's USDT argument specifications (`__bpf_usdt_specs`), for a program that
    /// includes `usdt.bpf.h`.
    var usdtSpecifications: USDTSpecificationTable?

    /// Loads `instructions` with `BPF_PROG_LOAD`, with their BTF function and line info when
    /// `btf` is given (record offsets are instruction indices, as ``BPFObject/LinkedProgram``
    /// has them; without `btf` the records are not sent): the kernel then names C source lines
    /// in its log, and checks global functions against their prototypes.
    /// - Parameter logLevel: 0 for no log (a rejected program is loaded again with level 1 to
    ///   explain itself), 1 for the verifier's verdict and state, 2 for every instruction it
    ///   processes.
    /// - Parameters:
    ///   - expectedAttachType: `enum bpf_attach_type` the program will be attached as, which
    ///     the kernel requires of some types (cgroup socket-address programs, for one);
    ///     ``BPFObject/SectionNames/Match/expectedAttachType`` has libbpf's choice.
    ///   - flags: `prog_flags`, such as `BPF_F_XDP_HAS_FRAGS`.
    ///   - attachBTFID: the vmlinux BTF id of the function or tracepoint a tracing (fentry,
    ///     fexit, tp_btf) or LSM program attaches to; 0 for other programs.
    /// - Throws: ``KernelError`` with the verifier's log when the kernel rejects the program.
    public init(
        type: ProgramType, instructions: [Instruction], license: String = "GPL", name: String = "", logLevel: UInt32 = 0,
        btf: KernelBTF? = nil, functionInfo: [BTFExt.FunctionInfo] = [], lineInfo: [BTFExt.LineInfo] = [],
        expectedAttachType: AttachType? = nil, flags: ProgramFlags = [], attachBTFID: UInt32 = 0
    ) throws(KernelError) {
        let bytes = Instruction.encode(instructions)
        let functions = functionInfo.flatMap { [$0.instructionOffset, $0.typeID] }
        let lines = lineInfo.flatMap { [$0.instructionOffset, $0.fileNameOffset, $0.lineOffset, $0.line << 10 | $0.column & 0x3ff] }
        let (fd, log) = loadWithLog(level: logLevel) { level, log, size in
            bytes.withUnsafeBytes { code in
                functions.withUnsafeBytes { functions in
                    lines.withUnsafeBytes { lines in
                        var info = cbpf_prog_btf(
                            btf_fd: btf?.fd ?? -1, func_info: functions.baseAddress, func_info_cnt: UInt32(functionInfo.count),
                            line_info: lines.baseAddress, line_info_cnt: UInt32(lineInfo.count))
                        return cbpf_prog_load(
                            type.rawValue, code.baseAddress, UInt32(instructions.count), license, level, log, size, name, &info,
                            expectedAttachType?.rawValue ?? 0, flags.rawValue, attachBTFID)
                    }
                }
            }
        }
        if fd < 0 { throw KernelError(command: "BPF_PROG_LOAD", errno: -fd, log: log.isEmpty ? nil : log) }
        descriptor = Descriptor(adopting: fd)
        self.type = type
        self.verifierLog = log
        self.expectedAttachType = expectedAttachType
    }

    /// Adopts `fd`, an open program descriptor (closed when this value is released).
    init(adopting fd: Int32, type: ProgramType) {
        descriptor = Descriptor(adopting: fd)
        self.type = type
        verifierLog = ""
    }

    /// Runs the program `repeat` times on `data` with `BPF_PROG_TEST_RUN`.
    public func testRun(data: [UInt8], repeat count: UInt32 = 1) throws(KernelError) -> TestRunResult {
        var out = [UInt8](repeating: 0, count: data.count + 4096)  // room for a grown tail
        var outSize = UInt32(out.count)
        var retval: UInt32 = 0, duration: UInt32 = 0
        let r = data.withUnsafeBytes { input in
            out.withUnsafeMutableBytes {
                cbpf_prog_test_run(fd, input.baseAddress, UInt32(input.count), $0.baseAddress, &outSize, count, &retval, &duration)
            }
        }
        if r < 0 { throw KernelError(command: "BPF_PROG_TEST_RUN", errno: -r) }
        return TestRunResult(returnValue: retval, data: Array(out.prefix(Int(min(outSize, UInt32(out.count))))), nanosecondsPerRun: Double(duration))
    }
}

extension KernelProgram {
    /// Runs the program once on a context (`ctx_in`) with no packet, as raw tracepoint
    /// programs are test-run; returns its return value.
    public func testRun(context: [UInt8]) throws(KernelError) -> UInt32 {
        var retval: UInt32 = 0
        let r = context.withUnsafeBytes { cbpf_prog_test_run_context(fd, $0.baseAddress, UInt32($0.count), &retval) }
        if r < 0 { throw KernelError(command: "BPF_PROG_TEST_RUN", errno: -r) }
        return retval
    }
}

/// Whether this process may use `bpf(2)`.
public enum KernelSupport {
    /// Nil when `bpf(2)` works here; otherwise why it does not (not Linux, not permitted, …).
    public static let unavailableReason: String? = {
        let probe = [Instruction(opcode: 0xb7), Instruction(opcode: 0x95)]  // r0 = 0; exit
        do throws(KernelError) {
            _ = try KernelProgram(type: .socketFilter, instructions: probe)
            return nil
        } catch {
            switch error.errno {
            case .ENOSYS?: return "bpf(2) does not exist on this platform"
            case .EPERM?: return "bpf(2) is not permitted for this process (run as root or with CAP_BPF)"
            default: return "bpf(2) failed probing a trivial program: \(error)"
            }
        }
    }()
}

extension KernelSupport {
    /// Binds the calling thread to `cpu` (nil: any CPU again), so that what it runs through
    /// `BPF_PROG_TEST_RUN` runs there. Returns whether the kernel allowed it.
    @discardableResult
    package static func bindThread(toCPU cpu: Int?) -> Bool { cbpf_bind_thread_to_cpu(Int32(cpu ?? -1)) == 0 }
}

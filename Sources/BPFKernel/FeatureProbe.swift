public import BPFCore
import BPFPlatform
public import BTF
import BPFObject
import CBPFShims

/// Which program and map types the running kernel offers, each found by asking it: a small
/// program of the type is loaded, a small map of the type created (`bpftool feature probe`).
public enum FeatureProbe {
    /// What the kernel answered for one type.
    public enum Answer: Sendable, Equatable {
        /// The kernel loaded the program or created the map.
        case available
        /// The kernel knows the type but the probe lacks what it needs (a kernel struct to
        /// implement): the kernel's refusal is the one it gives only for a type it has.
        case knownWithoutTarget(String)
        /// The kernel refused it, with this error.
        case unavailable(String)

        /// Whether the kernel has the type (loaded or created it, or knows it without a target).
        public var isAvailable: Bool {
            if case .unavailable = self { return false }
            return true
        }
    }

    /// The program types probed: every one the kernel has a value for.
    public static var programTypes: [ProgramType] { ProgramType.allCases.filter { $0 != .unspec } }

    /// Loads `r0 = 0; exit` as a program of `type`, attached where the type needs an attach
    /// point named (a socket-address hook, a tracepoint for tracing, a hook for LSM).
    public static func probe(_ type: ProgramType, btf: BTF? = BTF.vmlinux) -> Answer {
        let code = [
            Instruction(opcode: OpClass.alu64.rawValue | ALUOp.mov.rawValue, dst: 0, imm: 0),
            Instruction(opcode: OpClass.jmp.rawValue | JumpOp.exit.rawValue),
        ]
        var attach: AttachType?
        var target: String?
        switch type {
        case .cgroupSockAddr: attach = .cgroupInet4Connect
        case .cgroupSockopt: attach = .cgroupGetsockopt
        case .skLookup: attach = .skLookup
        case .tracing: (attach, target) = (.traceRawTp, "btf_trace_sched_switch")
        case .lsm: (attach, target) = (.lsmMac, "bpf_lsm_file_open")
        default: break
        }
        var attachBTFID: UInt32 = 0
        if let target {
            guard let id = btf?.typeID(named: target, where: { if case .typedef = $0 { true } else if case .function = $0 { true } else { false } }) else {
                return .unavailable("the kernel's BTF has no \(target)")
            }
            attachBTFID = UInt32(id)
        }
        do {
            _ = try KernelProgram(
                type: type, instructions: code, logLevel: 1, expectedAttachType: attach, flags: type == .syscall ? .sleepable : [],
                attachBTFID: attachBTFID)
            return .available
        } catch {
            // A struct_ops program names the kernel struct it implements: without one the
            // kernel answers ENOTSUPP, only for the type it knows.
            if type == .structOps, error.errno == .ENOTSUPP {
                return .knownWithoutTarget("BPF_PROG_LOAD of no kernel struct: ENOTSUPP, as the kernel answers when it has the type")
            }
            return .unavailable(error.errno.map { "BPF_PROG_LOAD: \($0)" } ?? "\(error)")
        }
    }

    /// The map types probed: every one the kernel has a value for.
    public static var mapTypes: [MapType] { MapType.names.keys.filter { $0 != 0 }.sorted().map(MapType.init(rawValue:)) }

    /// Creates a small map of `type`, with the sizes, flags and BTF the type requires.
    public static func probe(_ type: MapType) -> Answer {
        var (key, value, entries, flags) = (UInt32(4), UInt32(4), UInt32(1), MapFlags())
        var btf: KernelBTF?
        var inner: KernelMap?
        switch type {
        case .lpmTrie: (key, value, flags) = (8, 8, .noPrealloc)
        case .queue, .stack, .bloomFilter: key = 0
        case .ringbuf, .userRingbuf: (key, value, entries) = (0, 0, UInt32(sysconf(Int32(_SC_PAGESIZE))))
        case .stackTrace: value = 8
        case .cgroupStorage, .percpuCgroupStorage: (key, value, entries) = (16, 8, 0)
        case .skStorage, .inodeStorage, .taskStorage, .cgrpStorage:
            flags = .noPrealloc
            entries = 0
            do { btf = try KernelBTF(BTF(bytes: Self.intBTF)) } catch { return .unavailable("\(error)") }
        case .arrayOfMaps, .hashOfMaps:
            do {
                inner = try KernelMap(
                    MapDefinition(name: "probe_inner", type: .array, keySize: 4, valueSize: 4, maxEntries: 1, flags: [], section: "", offset: 0))
            } catch { return .unavailable("\(error)") }
        case .arena: (key, value, flags) = (0, 0, .mmapable)
        default: break
        }
        let fd = cbpf_map_create(
            type.rawValue, key, value, entries, flags.rawValue, "probe", btf?.fd ?? -1, btf == nil ? 0 : 1, btf == nil ? 0 : 1, inner?.fd ?? -1,
            type == .structOps ? 1 : 0)
        if fd >= 0 {
            close(fd)
            return .available
        }
        // A struct_ops map names the kernel struct it implements: named one that is none (type
        // 1), the kernel answers ENOTSUPP, which it gives only for the map type it knows.
        if type == .structOps, Errno(rawValue: -fd) == .ENOTSUPP {
            return .knownWithoutTarget("BPF_MAP_CREATE of no kernel struct: ENOTSUPP, as the kernel answers when it has the type")
        }
        return .unavailable("\(KernelError(command: "BPF_MAP_CREATE", errno: -fd))")
    }

    /// BTF with one type, `int` (id 1): the key and value type a storage map's probe names.
    private static let intBTF: [UInt8] = {
        var bytes: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        bytes += [0x9f, 0xeb, 1, 0]  // magic, version 1, flags
        u32(24)  // header length
        u32(0)  // types at 0, 16 bytes
        u32(16)
        u32(16)  // strings at 16, 5 bytes
        u32(5)
        u32(1)  // "int"
        u32(1 << 24)  // BTF_KIND_INT
        u32(4)  // 4 bytes
        u32(1 << 24 | 32)  // signed, 32 bits
        bytes += Array("\0int\0".utf8)
        return bytes
    }()
}

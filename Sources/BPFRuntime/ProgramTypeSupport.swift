public import BPFCore
package import BPFVM

/// What the userspace runtime provides each program type it runs: the context a run builds, how
/// the program's context accesses are converted to it, and the helpers it may call. One table:
/// a type not in it is refused at load with ``RuntimeError/unsupportedProgramType(program:_:)``.
public struct ProgramTypeSupport: Sendable {
    /// The context a run hands the program in r1.
    package enum Context: Sendable {
        /// `struct xdp_md` over a frame with headroom, as the kernel's XDP test run builds it.
        case xdpFrame
        /// `struct __sk_buff` over a packet; `writablePacket` for tc, read-only for socket
        /// filters and cgroup programs.
        case socketBuffer(writablePacket: Bool)
        /// A tracepoint's raw record, read in place; for programs run by a ``Hook``, its
        /// arguments as 64-bit values (`struct bpf_raw_tracepoint_args`, and the registers a
        /// `usdt` program's specification points into).
        case record
    }

    package let context: Context
    /// The context fields' runtime layout; nil where the program reads the context as it is.
    package let contextFields: [ContextConversion.Field]?

    /// The program types the runtime runs.
    public static let supported: [ProgramType] = [.xdp, .socketFilter, .schedCLS, .schedACT, .cgroupSKB, .tracepoint, .rawTracepoint, .kprobe]

    /// The support for `type`, or nil where the runtime has none.
    package static func of(_ type: ProgramType) -> ProgramTypeSupport? {
        switch type {
        case .xdp: ProgramTypeSupport(context: .xdpFrame, contextFields: ContextConversion.xdp)
        case .socketFilter:
            ProgramTypeSupport(context: .socketBuffer(writablePacket: false), contextFields: ContextConversion.socketFilter)
        case .cgroupSKB: ProgramTypeSupport(context: .socketBuffer(writablePacket: false), contextFields: ContextConversion.cgroupSKB)
        case .schedCLS, .schedACT: ProgramTypeSupport(context: .socketBuffer(writablePacket: true), contextFields: ContextConversion.tc)
        case .tracepoint, .rawTracepoint, .kprobe: ProgramTypeSupport(context: .record, contextFields: nil)
        default: nil
        }
    }

    /// The helpers a program of this type may call in the runtime.
    package var helpers: HelperTable {
        var helpers = HelperTable.standard
        helpers.registerMapHelpers()
        helpers.registerRingBufferHelpers()
        helpers.registerSpinLockHelpers()
        helpers.registerTracePrintk()
        helpers.registerCallbackHelpers()
        switch context {
        case .xdpFrame:
            helpers.registerXDPHelpers()
            helpers.registerChecksumHelpers()
            helpers.registerPerfEventOutput(.xdp)
        case .socketBuffer(let writable):
            if writable {  // tc
                helpers.registerTCRedirect()
                helpers.registerChecksumHelpers()
            }
            helpers.registerPerfEventOutput(.socketBuffer)
        case .record:
            helpers.registerPerfEventOutput(.record)
            helpers.registerAttachCookie()
        }
        return helpers
    }
}

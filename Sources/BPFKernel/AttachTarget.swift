import BPFCore
import BPFObject
import BTF

extension SectionNames.Match {
    /// The vmlinux BTF id of what a BTF-attached program attaches to, found as libbpf finds it
    /// from the section's target: the function itself for `fentry/F`, `fexit/F` and
    /// `fmod_ret/F`, the `btf_trace_T` typedef for `tp_btf/T`, `bpf_lsm_H` for `lsm/H`,
    /// `bpf_iter_I` for `iter/I`. 0 for programs attached otherwise.
    /// - Throws: a message naming what is missing when the kernel's BTF has no such target.
    func attachBTFID(in kernel: @autoclosure () -> BTF?) throws(AttachTargetError) -> UInt32 {
        let name: String, isTypedef: Bool
        switch expectedAttachType {
        case .traceRawTp?: (name, isTypedef) = ("btf_trace_", true)  // tp_btf
        case .traceFentry?, .traceFexit?, .modifyReturn?: (name, isTypedef) = ("", false)
        case .lsmMac?, .lsmCgroup?: (name, isTypedef) = ("bpf_lsm_", false)
        case .traceIter?: (name, isTypedef) = ("bpf_iter_", false)
        default: return 0
        }
        guard let target = attachTarget else { throw AttachTargetError(message: "the section names no attach target (as in fentry/FUNCTION)") }
        guard let btf = kernel() else { throw AttachTargetError(message: "attaching to \(target) needs the kernel's BTF (/sys/kernel/btf/vmlinux)") }
        let wanted = name + target
        let id = btf.typeID(named: wanted) { kind in
            switch kind {
            case .typedef: isTypedef
            case .function: !isTypedef
            default: false
            }
        }
        guard let id else { throw AttachTargetError(message: "the kernel's BTF has no \(isTypedef ? "tracepoint" : "function") \(wanted)") }
        return UInt32(id)
    }
}

/// A BTF-attached program's target that the kernel's BTF does not have.
struct AttachTargetError: Error {
    var message: String
}

/// How far the verifier trusts a kernel object pointer, as the kernel's type flags say: what a
/// helper may be given, and whether it can be NULL.
package enum KernelPointerTrust: UInt8, Sendable, Hashable {
    /// `PTR_TRUSTED`: tracing arguments, `bpf_get_current_task_btf`, the fields the kernel lists
    /// as trusted. Never NULL unless marked so.
    case trusted
    /// `MEM_RCU`: RCU-protected fields read inside an RCU read section.
    case rcu
    /// Plain `PTR_TO_BTF_ID`: other fields read through a trusted pointer in a non-sleepable
    /// program; helpers take it, but it may be NULL.
    case plain
    /// `PTR_UNTRUSTED`: readable only.
    case untrusted
    /// `MEM_USER` / `MEM_PERCPU` (`__user`, `__percpu` tagged fields): not even readable.
    case user, percpu

    /// The kernel's log name prefix (`trusted_ptr_`).
    var prefix: String {
        switch self {
        case .trusted: "trusted_ptr_"
        case .rcu: "rcu_ptr_"
        case .plain: "ptr_"
        case .untrusted: "untrusted_ptr_"
        case .user: "user_ptr_"
        case .percpu: "percpu_ptr_"
        }
    }

    /// What a pointer field read through a pointer of this trust becomes
    /// (`check_ptr_to_btf_access`): the kernel's allow-lists of fields that keep their parent's
    /// trust (`BTF_TYPE_SAFE_TRUSTED`, `…_OR_NULL`, `BTF_TYPE_SAFE_RCU`, `…_OR_NULL`, by the
    /// parent's struct name and the field's), `__rcu`/`__user`/`__percpu` tags, and whether the
    /// program runs inside an RCU read section (non-sleepable programs always do).
    /// - Returns: the trust, and whether the pointer may be NULL.
    static func field(_ member: String, of parent: String, tag: String?, base: KernelPointerTrust, inRCU: Bool) -> (KernelPointerTrust, nullable: Bool) {
        switch base {
        case .untrusted, .user, .percpu: return (.untrusted, false)
        case .plain: return (tag == "user" ? .user : tag == "percpu" ? .percpu : .plain, false)  // the old compat: flags stay cleared
        case .trusted, .rcu: break
        }
        if safeTrusted[parent]?.contains(member) == true { return (.trusted, false) }
        if safeTrustedOrNull[parent]?.contains(member) == true { return (.trusted, true) }
        guard inRCU else { return (.untrusted, false) }
        if safeRCU[parent]?.contains(member) == true { return (.rcu, false) }
        if tag == "rcu" || safeRCUOrNull[parent]?.contains(member) == true { return (.rcu, true) }
        if tag == "user" { return (.user, false) }
        if tag == "percpu" { return (.percpu, false) }
        return (.plain, false)
    }

    private static let safeTrusted: [String: Set<String>] = [
        "bpf_iter_meta": ["seq"], "bpf_iter__task": ["meta", "task"], "linux_binprm": ["file"], "file": ["f_inode"], "dentry": ["d_inode"],
    ]
    private static let safeTrustedOrNull: [String: Set<String>] = ["socket": ["sk"]]
    private static let safeRCU: [String: Set<String>] = [
        "task_struct": ["cpus_ptr", "cgroups", "real_parent", "group_leader"], "cgroup": ["kn"], "css_set": ["dfl_cgrp"],
    ]
    private static let safeRCUOrNull: [String: Set<String>] = ["mm_struct": ["exe_file"], "sk_buff": ["sk"], "request_sock": ["sk"]]
}

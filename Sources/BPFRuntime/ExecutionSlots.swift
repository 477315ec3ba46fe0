import CBPFShims
import BPFPlatform

/// The userspace runtime's CPUs: a thread holds one of ``count`` slots while it runs programs,
/// as a kernel program holds its CPU with preemption off. Per-CPU maps give each slot its own
/// value (`bpf_get_smp_processor_id` returns the slot), so two threads never share one at the
/// same time; a thread finding every slot taken waits for one.
package enum ExecutionSlots {
    /// One slot per possible CPU, as per-CPU maps have values.
    package static var count: Int { PossibleCPUs.count }

    /// Takes a slot for the calling thread; `nested` when it held one already (keep it).
    @inline(__always) package static func acquire() -> (slot: Int, nested: Bool) {
        var nested: Int32 = 0
        let slot = cbpf_slot_acquire(UInt32(count), &nested)
        return (Int(slot), nested != 0)
    }

    @inline(__always) package static func release(_ slot: Int) { cbpf_slot_release(Int32(slot)) }
}

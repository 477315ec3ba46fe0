import BPFCore
import CBPFShims

/// `bpf_spin_lock` (93) and `bpf_spin_unlock` (94) on the 4-byte `struct bpf_spin_lock` in a
/// map value. The verifier proves the pointer is that field, that a program holds one lock at a
/// time, calls nothing while holding it and releases it before exiting; so a lock is only ever
/// held for a few instructions, and spinning is what the kernel does too.
enum SpinLockHelpers {
    static let lock: HelperFunction = { address, _, _, _, _, _ in
        let word = UnsafeMutableRawPointer(bitPattern: UInt(address)).unsafelyUnwrapped
        while cbpf_cmpxchg32(word, 0, 1) != 0 {
            while cbpf_load_acquire32(word) != 0 {}  // wait without writing the line
        }
        return 0
    }

    static let unlock: HelperFunction = { address, _, _, _, _, _ in
        cbpf_store_release32(UnsafeMutableRawPointer(bitPattern: UInt(address)).unsafelyUnwrapped, 0)
        return 0
    }
}

extension HelperTable {
    /// Adds `bpf_spin_lock` (93) and `bpf_spin_unlock` (94).
    public mutating func registerSpinLockHelpers() {
        register(.spinLock, SpinLockHelpers.lock)
        register(.spinUnlock, SpinLockHelpers.unlock)
    }
}

/// What a program array slot holds: the address of two words naming where a tail call into the
/// program continues on each engine — its pre-decoded code for the interpreter, its native
/// body for the JIT (0 where the program has no code for that engine; the call then fails and
/// execution falls through, as for an empty slot).
enum ProgramEntry {
    /// Allocates a record.
    static func allocate(interpreterCode: UInt64, nativeEntry: UInt64) -> UnsafeMutablePointer<UInt64> {
        let record = UnsafeMutablePointer<UInt64>.allocate(capacity: 2)
        record.initialize(to: interpreterCode)
        (record + 1).initialize(to: nativeEntry)
        return record
    }

    @inline(__always) static func interpreterCode(of handle: UInt64) -> UInt64 {
        UnsafePointer<UInt64>(bitPattern: UInt(handle)).unsafelyUnwrapped[0]
    }

    @inline(__always) static func nativeEntry(of handle: UInt64) -> UInt64 {
        UnsafePointer<UInt64>(bitPattern: UInt(handle)).unsafelyUnwrapped[1]
    }
}

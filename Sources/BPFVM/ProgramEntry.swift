import BPFCore
import BPFMaps

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

    /// The two words of a record.
    enum Word: Int {
        case interpreterCode = 0, nativeEntry = 1
    }

    /// Where a tail call through slot `index` of the program array at `map` continues on one
    /// engine; 0 for an empty or out-of-range slot, a map that is not a program array, or a
    /// program without code for that engine.
    @inline(__always) static func target(map: UInt64, index: UInt64, _ word: Word) -> UInt64 {
        let handle = MapHelpers.map(map, as: ProgramArrayMap.self, where: { $0.type == MapType.progArray }, otherwise: 0) {
            $0.handle(UInt32(truncatingIfNeeded: index))
        }
        return handle == 0 ? 0 : UnsafePointer<UInt64>(bitPattern: UInt(handle)).unsafelyUnwrapped[word.rawValue]
    }
}

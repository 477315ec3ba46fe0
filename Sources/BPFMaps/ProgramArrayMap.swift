import BPFCore
/// `BPF_MAP_TYPE_PROG_ARRAY`: slots of programs for `bpf_tail_call`. In the userspace runtime a
/// slot holds a program's entry handle (the address of its pre-decoded code) and the map keeps
/// the program alive while it is in a slot. Programs cannot change slots; the host does.
public final class ProgramArrayMap: BPFMap, @unchecked Sendable {
    private let slots: UnsafeMutablePointer<UInt64>
    private var owners: [AnyObject?]

    override init(name: String, shape: MapShape) {
        slots = .allocate(capacity: shape.maxEntries)
        slots.initialize(repeating: 0, count: shape.maxEntries)
        owners = Array(repeating: nil, count: shape.maxEntries)
        super.init(name: name, shape: shape)
    }

    deinit { slots.deallocate() }

    override public var storage: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: slots, count: shape.maxEntries * 8)
    }

    /// Puts the program whose entry handle is `handle` (kept alive through `owner`) in slot
    /// `index`, or empties the slot when `handle` is 0.
    public func set(_ index: Int, handle: UInt64, owner: AnyObject?) throws(MapError) {
        guard index >= 0, index < shape.maxEntries else { throw .full(name) }
        slots[index] = handle
        owners[index] = handle == 0 ? nil : owner
    }

    /// The entry handle in slot `index`, 0 when empty or out of range.
    @inline(__always) public func handle(_ index: UInt32) -> UInt64 {
        Int(index) < shape.maxEntries ? slots[Int(index)] : 0
    }

    // Programs are not values: the byte-level operations refuse, as for programs in the kernel.
    override public func lookup(_ key: UnsafeRawPointer) -> UnsafeMutableRawPointer? { nil }
    override public func update(_ key: UnsafeRawPointer, _ value: UnsafeRawPointer, flags: UInt64) throws(MapError) {
        throw .invalid(name, "program array slots are set with set(_:handle:owner:)")
    }
    override public func delete(_ key: UnsafeRawPointer) throws(MapError) {
        let index = Int(key.loadUnaligned(as: UInt32.self))
        guard index < shape.maxEntries, slots[index] != 0 else { throw .notFound(name) }
        try set(index, handle: 0, owner: nil)
    }
    override public func nextKey(after key: UnsafeRawPointer?, into next: UnsafeMutableRawPointer) throws(MapError) {
        let n = key.map { Int($0.loadUnaligned(as: UInt32.self)) + 1 } ?? 0
        guard n < shape.maxEntries else { throw .notFound(name) }
        next.storeBytes(of: UInt32(n), as: UInt32.self)
    }
}

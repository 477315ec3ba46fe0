import BPFCore
import BPFMaps
import BPFVM
import Testing

/// The interpreter fuses `lddw r1, map; call bpf_map_lookup_elem` (and the NULL check after
/// it) into one operation. These programs take every way through such a sequence — found and
/// not found, `==` and `!=` checks, and a jump straight to the call's own slot — and must
/// give the same result fused, unfused (helper 1 replaced, so nothing is fused) and checked.
@Suite("Interpreter superinstructions")
struct SuperinstructionTests {
    /// Looks key `key` up twice — the second time by jumping back to the `call` slot — and
    /// returns the sum of the two values read, or 99 when the key is absent.
    private static func program(map: UInt64, key: Int, check: String) -> String {
        let found = check == "jeq" ? "jeq %r0, 0, absent" : "jne %r0, 0, present\nja absent"
        return """
            lddw %r8, \(map)
            stw [%r10-4], \(key)
            mov %r6, 0
            mov %r7, 0
            mov %r2, %r10
            add %r2, -4
            lddw %r1, \(map)
            again:
            call 1
            \(found)
            present:
            ldxdw %r3, [%r0]
            add %r6, %r3
            add %r7, 1
            jeq %r7, 2, done
            mov %r1, %r8
            mov %r2, %r10
            add %r2, -4
            ja again
            done:
            mov %r0, %r6
            exit
            absent:
            mov %r0, 99
            exit
            """
    }

    @Test("a fused lookup and NULL check behave as the instructions one by one",
          arguments: [(1, "jeq"), (1, "jne"), (7, "jeq"), (7, "jne")])
    func fusedLookup(key: Int, check: String) throws {
        let map = try BPFMap.make(name: "values", shape: MapShape(type: MapShape.array, keySize: 4, valueSize: 8, maxEntries: 4))
        try map.update([1, 0, 0, 0], [21, 0, 0, 0, 0, 0, 0, 0])
        let address = UInt64(UInt(bitPattern: Unmanaged.passUnretained(map).toOpaque()))
        let code = try Assembler.assemble(Self.program(map: address, key: key, check: check))

        var builtIn = HelperTable()
        builtIn.registerMapHelpers()
        var replaced = builtIn
        replaced.register(id: 1) { m, key, _, _, _, _ in
            let map = Unmanaged<BPFMap>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(m))!).takeUnretainedValue()
            return UInt64(UInt(bitPattern: map.lookup(UnsafeRawPointer(bitPattern: UInt(key))!)))
        }
        let expected: UInt64 = key == 1 ? 42 : 99
        let fused = try Interpreter(code, helpers: builtIn)
        let unfused = try Interpreter(code, helpers: replaced)
        #expect(try fused.run() == expected)
        #expect(try unfused.run() == expected)
        let regions = [MemoryRegion(start: UInt64(UInt(bitPattern: map.storage.baseAddress)), length: UInt64(map.storage.count), writable: true)]
        let maps = [address]
        let checked = try maps.withUnsafeBufferPointer { (maps) throws -> UInt64 in
            fused.helperContextValue.maps = maps  // checked mode accepts only the program's maps
            return try fused.run(mode: .checked(), regions: regions)
        }
        #expect(checked == expected)
        withExtendedLifetime(map) {}
    }
}

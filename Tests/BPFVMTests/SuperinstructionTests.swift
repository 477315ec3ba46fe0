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

    @Test(
        "a fused lookup and NULL check behave as the instructions one by one",
        arguments: [(1, "jeq"), (1, "jne"), (7, "jeq"), (7, "jne")])
    func fusedLookup(key: Int, check: String) throws {
        let map = try BPFMap.make(name: "values", shape: MapShape(type: MapType.array, keySize: 4, valueSize: 8, maxEntries: 4))
        try map.update([1, 0, 0, 0], [21, 0, 0, 0, 0, 0, 0, 0])
        let address = UInt64(UInt(bitPattern: Unmanaged.passUnretained(map).toOpaque()))
        let code = try Assembler.assemble(Self.program(map: address, key: key, check: check))

        var builtIn = HelperTable()
        builtIn.registerMapHelpers()
        var replaced = builtIn
        replaced.register(.mapLookupElem) { m, key, _, _, _, _ in
            let map = Unmanaged<BPFMap>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(m))!).takeUnretainedValue()
            return UInt64(UInt(bitPattern: map.lookup(UnsafeRawPointer(bitPattern: UInt(key))!)))
        }
        let expected: UInt64 = key == 1 ? 42 : 99
        let fused = try Interpreter(code, helpers: builtIn)
        let inlined = try Interpreter(code, helpers: builtIn, maps: [map])  // an array lookup with no call
        let unfused = try Interpreter(code, helpers: replaced)
        #expect(try fused.run() == expected)
        #expect(try inlined.run() == expected)
        #expect(try unfused.run() == expected)
        let regions = [MemoryRegion(start: UInt64(UInt(bitPattern: map.storage.baseAddress)), length: UInt64(map.storage.count), writable: true)]
        let maps = [address]
        for vm in [fused, inlined] {
            let checked = try maps.withUnsafeBufferPointer { (maps) throws -> UInt64 in
                vm.helperContextValue.maps = maps  // checked mode accepts only the program's maps
                return try vm.run(mode: .checked(), regions: regions)
            }
            #expect(checked == expected)
        }
        withExtendedLifetime(map) {}
    }

    /// Counter updates in memory, a key stored then its address taken, loop counts (add then
    /// compare), and `mov32` with an ALU32 operation — each entered at its start and, by a jump,
    /// at a slot inside it.
    private static let sequences = """
        mov %r1, 100
        stdw [%r10-16], 5
        stw [%r10-24], 0xfffffffe
        mov %r6, 0
        mov %r7, 0
        ja into_counter
        loop:
        ldxdw %r1, [%r10-16]
        into_counter:
        add %r1, 7
        stxdw [%r10-16], %r1
        ldxw %r2, [%r10-24]
        add32 %r2, 1
        stxw [%r10-24], %r2
        stxw [%r10-4], %r6
        mov %r3, %r10
        add %r3, -4
        ldxw %r4, [%r3]
        add %r7, %r4
        stxdw [%r10-32], %r7
        mov %r5, %r10
        add %r5, -32
        ldxdw %r5, [%r5]
        add %r6, 1
        jne %r6, 10, loop
        mov32 %r8, 0
        ja mid
        loop2:
        add32 %r8, 3
        mid:
        jlt32 %r8, 20, loop2
        mov32 %r9, %r8
        lsh32 %r9, 31
        mov32 %r0, %r9
        arsh32 %r0, 4
        ldxdw %r1, [%r10-16]
        xor %r0, %r1
        lsh %r2, 8
        xor %r0, %r2
        lsh %r5, 16
        xor %r0, %r5
        lsh %r8, 24
        xor %r0, %r8
        exit
        """

    @Test("counter, key-address, loop-count and mov32 superinstructions behave as their instructions")
    func sequencesBehaveAsInstructions() throws {
        let code = try Assembler.assemble(Self.sequences)
        // The first pass starts inside the counter update (r1 = 100): 107, then 9 times + 7 →
        // 170. The 32-bit counter wraps from 0xfffffffe to 8; the sum of 0...9 is 45; the
        // 32-bit loop, entered at its compare, stops at 21; 21 << 31 is 0x80000000, which
        // shifted right arithmetically by 4 is 0xf8000000.
        let expected: UInt64 = 0xf800_0000 ^ 170 ^ (8 << 8) ^ (45 << 16) ^ (21 << 24)
        let vm = try Interpreter(code)
        #expect(try vm.run() == expected)
        #expect(try vm.run(mode: .checked()) == expected)
        if JITProgram.isSupported {  // the JIT never fuses
            #expect(try JITProgram(code).run() == expected)
        }
    }
}

import BPFCore
import Testing

@Suite("Instruction encoding")
struct InstructionTests {
    @Test("fields round-trip through bytes and words")
    func roundTrip() {
        let insn = Instruction(opcode: 0x61, dst: 3, src: 10, offset: -4, imm: -559038737)
        #expect(insn.bytes == [0x61, 0xa3, 0xfc, 0xff, 0xef, 0xbe, 0xad, 0xde])
        #expect(Instruction(bytes: insn.bytes) == insn)
        #expect(Instruction(word: insn.word) == insn)
        #expect(Instruction(word: 0x5566778800000018) == Instruction(opcode: 0x18, imm: 0x55667788))
    }

    @Test("hex text: two digits a byte, separators between, zero-padded numbers")
    func hex() {
        #expect(hexString([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        #expect(hexString([0xca, 0xfe, 0x01], separator: " ") == "ca fe 01")
        #expect(hexString([UInt8]()) == "" && hexString(CollectionOfOne(UInt8(7))) == "07")
        #expect(hexString(0x1f, width: 4) == "001f" && hexString(0x12345, width: 4) == "12345")
    }

    @Test("decoding rejects a partial instruction")
    func partial() throws {
        #expect(throws: DecodingError.self) { try Instruction.decode([0x95, 0, 0, 0]) }
        #expect(try Instruction.decode([0x95, 0, 0, 0, 0, 0, 0, 0]) == [Instruction(opcode: 0x95)])
    }

    @Test("helper names follow the kernel's ids")
    func helperIDs() {
        #expect(HelperID(rawValue: 1).name == "map_lookup_elem")
        #expect(HelperID(rawValue: 5).name == "ktime_get_ns")
        #expect(HelperID(rawValue: 12).name == "tail_call")
        #expect(HelperID(rawValue: 130).name == "ringbuf_output")
        #expect(HelperID(named: "bpf_get_prandom_u32")?.rawValue == 7)
        #expect(HelperID(rawValue: -1).name == nil)
        #expect(HelperID(rawValue: 100_000).name == nil)
    }
}

/// One 64-bit eBPF instruction slot, exactly as encoded (little-endian, RFC 9669 §3).
///
/// A wide `lddw` occupies two slots; the second holds the upper 32 bits of the immediate
/// in its `imm` and zero everywhere else.
public struct Instruction: Hashable, Sendable {
    /// The opcode byte.
    public var opcode: UInt8
    /// Destination register number (0–10).
    public var dst: UInt8
    /// Source register number (0–10), or a pseudo source for `lddw` and `call`.
    public var src: UInt8
    /// Signed 16-bit offset: jump displacement, memory offset, or an operation variant.
    public var offset: Int16
    /// Signed 32-bit immediate.
    public var imm: Int32

    /// Creates an instruction from its fields.
    public init(opcode: UInt8, dst: UInt8 = 0, src: UInt8 = 0, offset: Int16 = 0, imm: Int32 = 0) {
        self.opcode = opcode
        self.dst = dst
        self.src = src
        self.offset = offset
        self.imm = imm
    }

    /// Decodes the eight little-endian bytes starting at `bytes[start]`.
    @inlinable public init(bytes: some RandomAccessCollection<UInt8>, at start: Int = 0) {
        func byte(_ i: Int) -> UInt8 { bytes[bytes.index(bytes.startIndex, offsetBy: start + i)] }
        opcode = byte(0)
        dst = byte(1) & 0x0f
        src = byte(1) >> 4
        offset = Int16(bitPattern: UInt16(byte(2)) | UInt16(byte(3)) << 8)
        imm = Int32(bitPattern: UInt32(byte(4)) | UInt32(byte(5)) << 8 | UInt32(byte(6)) << 16 | UInt32(byte(7)) << 24)
    }

    /// The eight encoded bytes.
    public var bytes: [UInt8] {
        let o = UInt16(bitPattern: offset), i = UInt32(bitPattern: imm)
        return [
            opcode, (src << 4) | (dst & 0x0f), UInt8(truncatingIfNeeded: o), UInt8(truncatingIfNeeded: o >> 8),
            UInt8(truncatingIfNeeded: i), UInt8(truncatingIfNeeded: i >> 8),
            UInt8(truncatingIfNeeded: i >> 16), UInt8(truncatingIfNeeded: i >> 24),
        ]
    }

    /// The instruction as one little-endian 64-bit word (the form the conformance suite's
    /// `-- raw` section uses).
    public var word: UInt64 {
        bytes.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * $1.offset) }
    }

    /// Decodes a little-endian 64-bit word.
    public init(word: UInt64) {
        self.init(bytes: (0..<8).map { UInt8(truncatingIfNeeded: word >> (8 * $0)) })
    }

    /// The instruction class.
    @inlinable public var opClass: OpClass { OpClass(opcode: opcode) }
    /// Whether this is the first slot of a wide `lddw`.
    @inlinable public var isWide: Bool { opcode == 0x18 }
}

extension Instruction {
    /// Decodes a byte buffer of whole instructions.
    /// - Throws: ``DecodingError`` when the length is not a multiple of eight.
    @inlinable public static func decode(_ bytes: some RandomAccessCollection<UInt8>) throws(DecodingError) -> [Instruction] {
        guard bytes.count % 8 == 0 else { throw DecodingError(byteCount: bytes.count) }
        return stride(from: 0, to: bytes.count, by: 8).map { Instruction(bytes: bytes, at: $0) }
    }

    /// Encodes instructions into their byte form.
    public static func encode(_ instructions: [Instruction]) -> [UInt8] {
        instructions.flatMap(\.bytes)
    }
}

/// A byte buffer whose length is not a whole number of instructions.
public struct DecodingError: Error, Sendable, CustomStringConvertible {
    /// The buffer's length.
    public var byteCount: Int
    @usableFromInline init(byteCount: Int) { self.byteCount = byteCount }
    public var description: String { "\(byteCount) bytes is not a whole number of 8-byte instructions" }
}

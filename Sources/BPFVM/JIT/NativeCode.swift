public import BPFCore
package import BPFMaps

/// A program's machine code for one architecture, compiled but not mapped: what
/// ``JITProgram`` runs on its host, and what `swiftbpf disasm --jited --arch` shows (and the
/// arm64 tests run under QEMU) for either architecture on any host.
public struct NativeCode: Sendable {
    /// The JIT's targets.
    public enum Architecture: String, Sendable, CaseIterable {
        case x86_64, arm64

        /// The architecture this process runs on, when the JIT has a backend for it.
        public static var host: Architecture? {
            #if arch(x86_64)
            .x86_64
            #elseif arch(arm64)
            .arm64
            #else
            nil
            #endif
        }
    }

    public let architecture: Architecture
    /// The program as given.
    public let instructions: [Instruction]
    /// The machine code.
    public let bytes: [UInt8]
    /// Where each instruction's native code starts in ``bytes``.
    public let instructionOffsets: [Int]
    /// Where tail calls into the program land (after the main function's prologue).
    public let tailCallEntry: Int
    /// Each native instruction's offset and text, when compiled with a listing.
    let text: [(offset: Int, text: String)]?

    /// Compiles a decoded program for `architecture`.
    /// - Parameter largeSystemExtensions: on arm64, LSE atomics (default: when the host has
    ///   them, or when it is not arm64) or else load/store-exclusive loops.
    package init(
        _ program: DecodedProgram, for architecture: Architecture, maps: [BPFMap] = [], options: JITProgram.Options = .init(),
        largeSystemExtensions: Bool? = nil
    ) throws(PreparationError) {
        let decoded = program.decoded
        let arrays = ArrayLayout.of(maps)
        let blinding = options.blindConstants ? ConstantBlinding() : nil
        self.architecture = architecture
        instructions = program.instructions
        switch architecture {
        case .x86_64:
            let table = program.helpers
            let addresses = (0..<HelperTable.capacity).map { id in
                table[Int32(id)].map { UInt(bitPattern: unsafeBitCast($0, to: UnsafeRawPointer.self)) } ?? 0
            }
            // Emit once with long jumps, then again with short ones wherever they reach. Both
            // emissions start from the same blinding state, so they draw the same keys and every
            // instruction but the shortened jumps keeps its size.
            var generator = X86CodeGenerator(code: decoded, helperAddresses: addresses, arrays: arrays, blinding: blinding, listing: false, shortJumps: [])
            generator.generate()
            guard generator.asm.resolve() else { preconditionFailure("long jumps always reach") }
            let short = Set(generator.asm.jumpDistances.filter { Int8(exactly: $0.value) != nil }.keys)
            var final = X86CodeGenerator(
                code: decoded, helperAddresses: addresses, arrays: arrays, blinding: blinding, listing: options.keepListing, shortJumps: short)
            final.generate()
            guard final.asm.resolve() else { preconditionFailure("jumps only get closer when others shrink") }
            (bytes, instructionOffsets, tailCallEntry, text) = (final.asm.bytes, final.instructionOffsets, final.tailCallEntry, final.asm.listing)
        case .arm64:
            let lse = largeSystemExtensions ?? (Architecture.host != .arm64 || ARM64CodeGenerator.hostHasLSE)
            var generator = ARM64CodeGenerator(code: decoded, arrays: arrays, blinding: blinding, largeSystemExtensions: lse, listing: options.keepListing)
            generator.generate()
            guard generator.asm.resolve() else { throw .host("the program's code is too large for AArch64 branches (1 MiB for a conditional one)") }
            (bytes, instructionOffsets, tailCallEntry, text) = (
                generator.asm.bytes, generator.instructionOffsets, generator.tailCallEntry, generator.asm.listing
            )
        }
    }

    /// Validates and compiles `instructions` for `architecture`, on any host.
    public init(_ instructions: [Instruction], for architecture: Architecture, options: JITProgram.Options = .init()) throws(PreparationError) {
        try self.init(try DecodedProgram(instructions, helpers: .standard), for: architecture, options: options)
    }

    /// Each native instruction: offset, bytes and text (with ``JITProgram/Options/keepListing``).
    package var assembly: [(offset: Int, bytes: [UInt8], text: String)] {
        guard let text else { return [] }
        return text.indices.map { i in
            let (offset, line) = text[i]
            let stop = i + 1 < text.count ? text[i + 1].offset : bytes.count
            return (offset, Array(bytes[offset..<stop]), line)
        }
    }

    /// The native code as text, a block per BPF instruction: the instruction as the kernel's
    /// verifier log prints it, then its machine code (offset, bytes, LLVM's spelling), like
    /// `bpftool prog dump jited`. Nil unless compiled with ``JITProgram/Options/keepListing``.
    public var listing: String? {
        guard text != nil else { return nil }
        let assembly = self.assembly
        var lines: [String] = []
        var next = 0
        func emit(upTo end: Int) {
            while next < assembly.count, assembly[next].offset < end {
                let (offset, bytes, text) = assembly[next]
                let hexBytes = hexString(bytes, separator: " ")
                let padded = hexBytes.count >= 31 ? hexBytes + " " : hexBytes + String(repeating: " ", count: 31 - hexBytes.count)
                lines.append("  \(hexString(offset, width: 4)):  \(padded)\(text)")
                next += 1
            }
        }
        var pc = 0
        while pc < instructions.count {
            emit(upTo: instructionOffsets[pc])
            lines.append("; \(pc): \(Disassembler.text(instructions[pc], next: pc + 1 < instructions.count ? instructions[pc + 1] : nil))")
            pc += instructions[pc].isWide ? 2 : 1
        }
        emit(upTo: .max)
        return lines.joined(separator: "\n")
    }
}

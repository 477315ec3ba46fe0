import BPFConformance
import BPFCore
import BPFPlatform
import BPFTestSupport
import BPFVerifier
import BPFVM
import Testing

/// Random instruction sequences: mostly well-formed instructions with fields chosen for their
/// class (so that many programs validate and run), one in ten left entirely random (so that the
/// rejection paths are exercised too). Helper calls are left out: their results vary.
private func randomProgram(_ rng: inout SplitMix64) -> [Instruction] {
    let alu: [UInt8] = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xb0, 0xc0]
    let jumps: [UInt8] = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0]
    let sizes: [UInt8] = [0x00, 0x08, 0x10, 0x18]
    let atomics: [Int32] = [0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1]
    func reg(_ rng: inout SplitMix64) -> UInt8 { UInt8.random(in: 0...9, using: &rng) }
    func small(_ rng: inout SplitMix64) -> Int16 { Int16.random(in: -4...6, using: &rng) }
    let count = Int.random(in: 2...30, using: &rng)
    var code: [Instruction] = []
    for _ in 0..<count {
        var insn: Instruction
        switch Int.random(in: 0..<20, using: &rng) {
        case 0, 1:  // anything at all
            insn = Instruction(
                opcode: .random(in: 0...255, using: &rng), dst: .random(in: 0...15, using: &rng),
                src: .random(in: 0...15, using: &rng), offset: .random(in: .min ... .max, using: &rng),
                imm: .random(in: .min ... .max, using: &rng))
        case 2...8:  // arithmetic, 32 or 64 bit, immediate or register
            let cls: UInt8 = Bool.random(using: &rng) ? 0x07 : 0x04
            let op = alu.randomElement(using: &rng)!
            let signed: Int16 = (op == 0x30 || op == 0x90) && Bool.random(using: &rng) ? 1 : 0
            if Bool.random(using: &rng) {
                insn = Instruction(
                    opcode: cls | op, dst: reg(&rng), offset: signed,
                    imm: [0, 1, -1, 7, 63, 0x7fff_ffff, .min, .random(in: -100...100, using: &rng)].randomElement(using: &rng)!)
            } else {
                insn = Instruction(opcode: cls | 0x08 | op, dst: reg(&rng), src: reg(&rng), offset: signed)
            }
        case 9:  // neg, byte swaps, sign-extending moves
            insn = [
                Instruction(opcode: 0x87, dst: reg(&rng)), Instruction(opcode: 0x84, dst: reg(&rng)),
                Instruction(opcode: [0xd4, 0xdc, 0xd7].randomElement(using: &rng)!, dst: reg(&rng), imm: [16, 32, 64].randomElement(using: &rng)!),
                Instruction(opcode: 0xbf, dst: reg(&rng), src: reg(&rng), offset: [8, 16, 32].randomElement(using: &rng)!),
            ].randomElement(using: &rng)!
        case 10...13:  // loads and stores around the stack (r10) and the input (r1)
            let base: UInt8 = Bool.random(using: &rng) ? 10 : 1
            let offset = base == 10 ? Int16.random(in: -520 ... -1, using: &rng) : Int16.random(in: -2...70, using: &rng)
            let size = sizes.randomElement(using: &rng)!
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: insn = Instruction(opcode: 0x61 | size, dst: reg(&rng), src: base, offset: offset)
            case 1: insn = Instruction(opcode: 0x62 | size, dst: base, offset: offset, imm: .random(in: -9...9, using: &rng))
            case 2: insn = Instruction(opcode: 0x63 | size, dst: base, src: reg(&rng), offset: offset)
            default:
                insn = Instruction(
                    opcode: 0xc3 | (Bool.random(using: &rng) ? 0x18 : 0), dst: base, src: reg(&rng), offset: offset & ~7,
                    imm: atomics.randomElement(using: &rng)!)
            }
        case 14...17:  // conditional jumps, short distances
            let cls: UInt8 = Bool.random(using: &rng) ? 0x05 : 0x06
            let op = jumps.randomElement(using: &rng)!
            insn =
                Bool.random(using: &rng)
                ? Instruction(opcode: cls | op, dst: reg(&rng), offset: small(&rng), imm: .random(in: -3...3, using: &rng))
                : Instruction(opcode: cls | 0x08 | op, dst: reg(&rng), src: reg(&rng), offset: small(&rng))
        case 18:  // unconditional jumps and local calls
            insn = [
                Instruction(opcode: 0x05, offset: small(&rng)), Instruction(opcode: 0x06, imm: Int32(small(&rng))),
                Instruction(opcode: 0x85, src: 1, imm: Int32(small(&rng))),
            ].randomElement(using: &rng)!
        default:
            insn =
                Bool.random(using: &rng) ? Instruction(opcode: 0x95) : Instruction(opcode: 0x18, dst: reg(&rng), imm: .random(in: .min ... .max, using: &rng))
        }
        code.append(insn)
        if insn.opcode == 0x18 { code.append(Instruction(opcode: 0, imm: .random(in: .min ... .max, using: &rng))) }
    }
    code.append(Instruction(opcode: 0x95))
    return code
}

@Suite("Fuzzing: malformed and random programs never crash")
struct FuzzTests {
    /// Every random program is either rejected with an error naming an instruction inside it, or
    /// runs in checked mode to a result or a reported fault; and wherever checked mode completes
    /// without a fault, fast mode and the JIT (plain and with blinded constants) must give the
    /// same r0 and memory (checked mode is exactly the fast semantics plus checks).
    @Test("random programs: validation, checked execution, fast = checked = JIT", arguments: 0..<8)
    func randomPrograms(seed: UInt64) throws {
        var rng = SplitMix64(state: seed &* 0x1234_5678_9abc_def1)
        var rejected = 0, faulted = 0, completed = 0, jitted = 0
        for _ in 0..<2000 {
            let code = randomProgram(&rng)
            let vm: Interpreter
            do { vm = try Interpreter(code) } catch {
                #expect(error.index.map { $0 >= 0 && $0 <= code.count } ?? false, "\(error)")
                rejected += 1
                continue
            }
            // Both runs use the same buffer (programs may compute with its address), reset between.
            let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
            defer { memory.deallocate() }
            memory.initializeMemory(as: UInt8.self, repeating: 0x5a)
            let checked: UInt64
            do {
                checked = try vm.run(memory: memory, mode: .checked(instructionLimit: 10_000))
            } catch {
                #expect(error.pc >= 0 && error.pc < code.count)
                faulted += 1
                continue
            }
            // A program that reads its stack before writing it sees what an earlier run left
            // there (the verifier will forbid that); only deterministic programs run fast.
            let readsStack = code.contains {
                ($0.opClass == .ldx && $0.src == 10) || ($0.opClass == .stx && $0.opcode & 0xe0 == MemMode.atomic.rawValue && $0.dst == 10)
            }
            if !readsStack {
                let afterChecked = Array(memory)
                memory.initializeMemory(as: UInt8.self, repeating: 0x5a)
                let fast = try vm.run(memory: memory, mode: .fast)
                #expect(fast == checked, "fast and checked disagree on \(Disassembler.listing(code))")
                #expect(Array(memory) == afterChecked)
                if JITProgram.isSupported {
                    let blind = rng.next() % 4 == 0
                    let jit = try JITProgram(code, options: .init(blindConstants: blind))
                    memory.initializeMemory(as: UInt8.self, repeating: 0x5a)
                    let native = try jit.run(memory: memory)
                    #expect(native == checked, "JIT\(blind ? " (blinded)" : "") and interpreter disagree on \(Disassembler.listing(code))")
                    #expect(Array(memory) == afterChecked, "JIT leaves other memory on \(Disassembler.listing(code))")
                    jitted += 1
                }
            }
            completed += 1
        }
        // The generator must exercise every path, or the test proves little.
        #expect(rejected > 100 && faulted > 10 && completed > 100, "rejected \(rejected), faulted \(faulted), completed \(completed)")
        #expect(!JITProgram.isSupported || jitted > 60, "JIT-compared \(jitted)")
    }

    /// The arm64 backend executed for real: random programs that complete in checked mode,
    /// deterministically, compiled for arm64 (LSE atomics or exclusive loops, plain or blinded)
    /// and run under qemu-aarch64 (natively on arm64) must leave the interpreter's r0 and
    /// memory. The memory lies at the same address in both (programs compute with it).
    @Test(
        "random programs: the arm64 JIT under QEMU gives the interpreter's r0 and memory",
        .enabled(if: ARM64Emulation.configuredRunner != nil, "SWIFTBPF_ARM64_RUNNER is not set: scripts/test-arm64 builds the runner and sets it"))
    func arm64RandomPrograms() throws {
        let runner = try #require(ARM64Emulation.configuredRunner)
        let address = ARM64Emulation.fixedMemoryAddress
        let region = try #require(
            mmap(UnsafeMutableRawPointer(bitPattern: UInt(address)), 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            "memory at 0x\(String(address, radix: 16))")
        defer { munmap(region, 1 << 20) }
        try #require(UInt(bitPattern: region) == UInt(address), "the kernel placed the memory elsewhere")
        let memory = UnsafeMutableRawBufferPointer(start: region, count: 64)
        var rng = SplitMix64(state: 0xa64)
        var jobs: [(code: [UInt8], memory: [UInt8])] = [], expected: [(r0: UInt64, memory: [UInt8], listing: String)] = []
        let initial = [UInt8](repeating: 0x5a, count: 64)
        var variants: [Int: Int] = [:]
        while jobs.count < 4000 {
            let code = randomProgram(&rng)
            // r10 as a value (not a base) makes a result depend on where the stack is; a stack
            // read before a write, on what an earlier run left there.
            let usesFramePointer = code.contains {
                let alu = $0.opClass == .alu || $0.opClass == .alu64
                return (alu || $0.opClass == .stx || $0.opClass == .jmp || $0.opClass == .jmp32) && $0.opcode & 0x08 != 0 && $0.src == 10 || alu && $0.dst == 10
            }
            let readsStack = code.contains {
                ($0.opClass == .ldx && $0.src == 10) || ($0.opClass == .stx && $0.opcode & 0xe0 == MemMode.atomic.rawValue && $0.dst == 10)
            }
            guard !usesFramePointer, !readsStack, let vm = try? Interpreter(code) else { continue }
            memory.copyBytes(from: initial)
            guard let r0 = try? vm.run(memory: memory, mode: .checked(instructionLimit: 10_000)) else { continue }
            let variant = jobs.count % 3
            let native = try NativeCode(
                DecodedProgram(code, helpers: .standard), for: .arm64, options: .init(blindConstants: variant == 2), largeSystemExtensions: variant != 1)
            variants[variant, default: 0] += 1
            jobs.append((native.bytes, initial))
            expected.append((r0, Array(memory), Disassembler.listing(code)))
        }
        let outcomes = try ARM64Emulation.run(jobs, helpers: [], runner: runner, memoryAddress: address)
        var disagreements = 0
        for (outcome, want) in zip(outcomes, expected) where outcome.r0 != want.r0 || outcome.memory != want.memory || outcome.errorKind != 0 {
            disagreements += 1
            if disagreements <= 5 {
                Issue.record(
                    "arm64 r0 0x\(String(outcome.r0, radix: 16)) (error \(outcome.errorKind)), interpreter 0x\(String(want.r0, radix: 16)); memory \(hexString(outcome.memory)), interpreter's \(hexString(want.memory)) on\n\(want.listing)"
                )
            }
        }
        #expect(disagreements == 0)
        print(
            "arm64 JIT: \(jobs.count - disagreements) of \(jobs.count) random programs gave the interpreter's r0 and memory (LSE \(variants[0] ?? 0), exclusive loops \(variants[1] ?? 0), blinded \(variants[2] ?? 0))"
        )
    }

    @Test("random bytes never crash the decoder, validator, loader, verifier or JIT compiler", arguments: 0..<4)
    func randomBytes(seed: UInt64) {
        var rng = SplitMix64(state: seed)
        for _ in 0..<3000 {
            let bytes = (0..<(8 * Int.random(in: 0...16, using: &rng))).map { _ in UInt8.random(in: 0...255, using: &rng) }
            guard let code = try? Instruction.decode(bytes) else { Issue.record("whole instructions failed to decode"); continue }
            do {
                let vm = try Interpreter(code)
                var memory = [UInt8](repeating: 0, count: 16)
                _ = try? memory.withUnsafeMutableBytes { try vm.run(memory: $0, mode: .checked(instructionLimit: 1000)) }
            } catch {
                #expect(!error.description.isEmpty)
            }
            // The verifier judges them: a verdict, or an error naming an instruction inside.
            do { _ = try Verifier.verify(code, Verifier.Configuration(programType: .xdp)) } catch {
                #expect(error.instruction >= 0 && error.instruction <= code.count, "\(error)")
                #expect(!error.message.isEmpty)
            }
            // The JIT compiles (never runs) the same bytes: same verdict, same error.
            if JITProgram.isSupported {
                var interpreterError: String?, jitError: String?
                do { _ = try Interpreter(code) } catch { interpreterError = error.description }
                do { _ = try JITProgram(code, options: .init(blindConstants: rng.next() % 2 == 0)) } catch { jitError = error.description }
                #expect(jitError == interpreterError)
            }
        }
    }

    @Test("mutated assembly text gets an error naming a line inside it, or assembles")
    func mutatedAssembly() {
        let seedText = """
            mov %r0, 0
            ldxw %r1, [%r1+4]
            lock fetch add [%r10-8], %r1
            jne %r1, 0x10, out
            lddw %r2, 0x1122334455667788
            call local f
            out:
            exit
            f:
            movsx1664 %r0, %r2
            exit
            """
        let alphabet = Array("%r0123456789abcdefx[]+-,: \n#lockmovjeq")
        var rng = SplitMix64(state: 42)
        var failures = 0
        for _ in 0..<5000 {
            var chars = Array(seedText)
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let at = Int.random(in: 0..<chars.count, using: &rng)
                switch Int.random(in: 0...2, using: &rng) {
                case 0: chars.remove(at: at)
                case 1: chars.insert(alphabet.randomElement(using: &rng)!, at: at)
                default: chars[at] = alphabet.randomElement(using: &rng)!
                }
                if chars.isEmpty { chars = ["x"] }
            }
            let text = String(chars)
            do {
                _ = try Assembler.assemble(text)
            } catch {
                failures += 1
                let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count
                #expect(error.line >= 1 && error.line <= lines)
            }
        }
        #expect(failures > 1000)
    }
}

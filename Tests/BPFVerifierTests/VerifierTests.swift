import BPFCore
import BPFMaps
import BPFVerifier
import Testing

/// Maps the programs below use: 0 a hash map (4-byte keys, 8-byte values), 1 a ring buffer,
/// 2 an array of 16-byte values, 3 a program array, 4 a read-only array (global `.rodata`),
/// 5 a hash map whose 16-byte values start with a `struct bpf_spin_lock`.
private let maps = [
    MapShape(type: .hash, keySize: 4, valueSize: 8, maxEntries: 16),
    MapShape(type: .ringbuf, keySize: 0, valueSize: 0, maxEntries: 4096),
    MapShape(type: .array, keySize: 4, valueSize: 16, maxEntries: 4),
    MapShape(type: .progArray, keySize: 4, valueSize: 4, maxEntries: 4),
    MapShape(type: .array, keySize: 4, valueSize: 8, maxEntries: 1, flags: .readOnlyToPrograms),
    MapShape(type: .hash, keySize: 4, valueSize: 16, maxEntries: 16, spinLockOffset: 0),
]

/// Five instructions: key 0 on the stack at fp-4, then `bpf_map_lookup_elem(map, &key)`.
private func lookup(map: Int) -> String {
    "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:\(map)]\ncall bpf_map_lookup_elem"
}

private func verify(_ text: String, _ type: ProgramType = .xdp) throws -> VerifierReport {
    try Verifier.verify(PseudoCAssembler.assemble(text), Verifier.Configuration(programType: type, maps: maps))
}

/// The verifier's message for `text`, or nil when it accepts it.
private func refusal(_ text: String, _ type: ProgramType = .xdp) throws -> VerificationError? {
    do {
        _ = try verify(text, type)
        return nil
    } catch let error as VerificationError {
        return error
    }
}

/// A safe program and what it shows the verifier can prove.
struct SafeCase: Sendable, CustomTestStringConvertible {
    var name: String
    var type: ProgramType = .xdp
    var code: String
    var testDescription: String { name }
}

/// An unsafe program: the instruction and the words of the message the verifier must give.
struct UnsafeCase: Sendable, CustomTestStringConvertible {
    var name: String
    var type: ProgramType = .xdp
    var code: String
    var instruction: Int
    var message: String
    var testDescription: String { name }
}

private let safeCases: [SafeCase] = [
    SafeCase(name: "constant return", code: "r0 = 2\nexit"),
    SafeCase(
        name: "a counter updated under its spin lock",
        code: """
            \(lookup(map: 5))
            if r0 == 0 goto out
            r6 = r0
            r1 = r6
            call bpf_spin_lock
            r2 = *(u64 *)(r6 +8)
            r2 += 1
            *(u64 *)(r6 +8) = r2
            r1 = r6
            call bpf_spin_unlock
            out:
            r0 = 0
            exit
            """),
    SafeCase(
        name: "packet read after a bounds check",
        code: """
            r2 = *(u32 *)(r1 +0)
            r3 = *(u32 *)(r1 +4)
            r4 = r2
            r4 += 14
            if r4 > r3 goto out
            r0 = *(u8 *)(r2 +13)
            exit
            out:
            r0 = 1
            exit
            """),
    SafeCase(
        name: "map value after a NULL check",
        code: """
            \(lookup(map: 0))
            if r0 == 0 goto out
            r1 = *(u64 *)(r0 +0)
            *(u64 *)(r0 +0) = r1
            out:
            r0 = 0
            exit
            """),
    SafeCase(
        name: "bounded variable index into a map value",
        code: """
            \(lookup(map: 2))
            if r0 == 0 goto out
            r1 = *(u32 *)(r0 +0)
            r1 &= 7
            r0 += r1
            r0 = *(u64 *)(r0 +0)
            exit
            out:
            r0 = 0
            exit
            """),
    SafeCase(
        name: "ring buffer record reserved and submitted",
        code: """
            r1 = map[idx:1]
            r2 = 16
            r3 = 0
            call bpf_ringbuf_reserve
            if r0 == 0 goto out
            *(u64 *)(r0 +8) = 7
            r1 = r0
            r2 = 0
            call bpf_ringbuf_submit
            out:
            r0 = 0
            exit
            """),
    SafeCase(
        name: "bounded loop",
        code: """
            r0 = 0
            r1 = 0
            loop:
            r0 += r1
            r1 += 1
            if r1 < 100 goto loop
            exit
            """),
    SafeCase(
        name: "spilled pointer keeps its type",
        code: """
            *(u64 *)(r10 -8) = r1
            r6 = *(u64 *)(r10 -8)
            r0 = *(u32 *)(r6 +12)
            exit
            """),
    SafeCase(
        name: "bpf-to-bpf call with a stack pointer argument",
        code: """
            *(u64 *)(r10 -8) = 5
            r1 = r10
            r1 += -8
            call pc+2
            r0 = 0
            exit
            r0 = *(u64 *)(r1 +0)
            exit
            """),
    SafeCase(name: "tracepoint record read", type: .tracepoint, code: "r0 = *(u64 *)(r1 +16)\nexit"),
    SafeCase(
        name: "32-bit compare narrows the low half",
        code: """
            r2 = *(u32 *)(r1 +0)
            r3 = *(u32 *)(r1 +4)
            r4 = *(u32 *)(r1 +12)
            if w4 > 7 goto out
            r2 += r4
            r5 = r2
            r5 += 1
            if r5 > r3 goto out
            r0 = *(u8 *)(r2 +0)
            exit
            out:
            r0 = 0
            exit
            """),
]

/// After `lookup(map: 5)` and a NULL check (instructions 0-6): `body`, then `r0 = 0; exit`.
private func locked(_ body: String) -> String {
    "\(lookup(map: 5))\nif r0 == 0 goto out\n\(body)\nout:\nr0 = 0\nexit"
}

private let unsafeCases: [UnsafeCase] = [
    UnsafeCase(name: "spin lock never released", code: locked("r1 = r0\ncall bpf_spin_lock"), instruction: 10, message: "bpf_spin_unlock is missing"),
    UnsafeCase(
        name: "two spin locks at once", code: locked("r6 = r0\nr1 = r6\ncall bpf_spin_lock\nr1 = r6\ncall bpf_spin_lock\nr1 = r6\ncall bpf_spin_unlock"),
        instruction: 11, message: "function calls are not allowed while holding a lock"),  // the kernel's words for it too
    UnsafeCase(name: "unlock without a lock", code: locked("r1 = r0\ncall bpf_spin_unlock"), instruction: 8, message: "bpf_spin_unlock without taking a lock"),
    UnsafeCase(
        name: "a helper call while holding a spin lock",
        code: locked("r6 = r0\nr1 = r6\ncall bpf_spin_lock\ncall bpf_ktime_get_ns\nr1 = r6\ncall bpf_spin_unlock"),
        instruction: 10, message: "function calls are not allowed while holding a lock"),
    UnsafeCase(name: "the lock word read directly", code: locked("r1 = *(u32 *)(r0 +0)"), instruction: 7, message: "bpf_spin_lock cannot be accessed directly"),
    UnsafeCase(
        name: "a lock that is not the value's lock field", code: locked("r1 = r0\nr1 += 8\ncall bpf_spin_lock\nr1 = r0\ncall bpf_spin_unlock"),
        instruction: 9, message: "doesn't point to 'struct bpf_spin_lock'"),
    UnsafeCase(name: "uninitialized register", code: "r0 = r5\nexit", instruction: 0, message: "R5 !read_ok"),
    UnsafeCase(name: "r0 not set at exit", code: "exit", instruction: 0, message: "R0 !read_ok"),
    UnsafeCase(name: "uninitialized stack", code: "r0 = *(u64 *)(r10 -8)\nexit", instruction: 0, message: "invalid read from stack"),
    UnsafeCase(name: "stack out of bounds", code: "*(u64 *)(r10 -520) = 1\nr0 = 0\nexit", instruction: 0, message: "invalid write to stack"),
    UnsafeCase(name: "write to the frame pointer", code: "r10 = 0\nr0 = 0\nexit", instruction: 0, message: "frame pointer is read only"),
    UnsafeCase(name: "dereference of a number", code: "r1 = 4096\nr0 = *(u64 *)(r1 +0)\nexit", instruction: 1, message: "R1 invalid mem access 'scalar'"),
    UnsafeCase(
        name: "packet read without a bounds check",
        code: """
            r2 = *(u32 *)(r1 +0)
            r0 = *(u8 *)(r2 +0)
            exit
            """, instruction: 1, message: "invalid access to packet"),
    UnsafeCase(
        name: "packet read past the checked range",
        code: """
            r2 = *(u32 *)(r1 +0)
            r3 = *(u32 *)(r1 +4)
            r4 = r2
            r4 += 14
            if r4 > r3 goto out
            r0 = *(u8 *)(r2 +14)
            exit
            out:
            r0 = 1
            exit
            """, instruction: 5, message: "invalid access to packet, off=14 size=1"),
    UnsafeCase(
        name: "map value without a NULL check",
        code: """
            \(lookup(map: 0))
            r0 = *(u64 *)(r0 +0)
            exit
            """, instruction: 6, message: "invalid mem access 'map_value_or_null'"),
    UnsafeCase(
        name: "map value read past its end",
        code: """
            \(lookup(map: 0))
            if r0 == 0 goto out
            r0 = *(u64 *)(r0 +4)
            out:
            exit
            """, instruction: 7, message: "invalid access to map value, value_size=8 off=4 size=8"),
    UnsafeCase(
        name: "unbounded index into a map value",
        code: """
            \(lookup(map: 2))
            if r0 == 0 goto out
            r1 = *(u32 *)(r0 +0)
            r0 += r1
            r0 = *(u8 *)(r0 +0)
            out:
            exit
            """, instruction: 9, message: "R0 unbounded memory access"),
    UnsafeCase(
        name: "uninitialized map key",
        code: """
            r2 = r10
            r2 += -4
            r1 = map[idx:0]
            call bpf_map_lookup_elem
            r0 = 0
            exit
            """, instruction: 4, message: "invalid indirect read from stack"),
    UnsafeCase(
        name: "ring buffer record never submitted",
        code: """
            r1 = map[idx:1]
            r2 = 16
            r3 = 0
            call bpf_ringbuf_reserve
            r0 = 0
            exit
            """, instruction: 6, message: "Unreleased reference id="),
    UnsafeCase(
        name: "ring buffer record used after submit",
        code: """
            r1 = map[idx:1]
            r2 = 16
            r3 = 0
            call bpf_ringbuf_reserve
            if r0 == 0 goto out
            r6 = r0
            r1 = r0
            r2 = 0
            call bpf_ringbuf_submit
            *(u64 *)(r6 +0) = 1
            out:
            r0 = 0
            exit
            """, instruction: 10, message: "R6 invalid mem access 'scalar'"),
    UnsafeCase(
        name: "write to read-only global data",
        code: """
            r1 = map[idx:4][0]+0
            *(u64 *)(r1 +0) = 1
            r0 = 0
            exit
            """, instruction: 2, message: "write into map forbidden"),
    UnsafeCase(name: "infinite loop", code: "r0 = 0\nloop:\ngoto loop", instruction: 1, message: "infinite loop detected"),
    UnsafeCase(
        name: "loop without a bound",
        code: """
            r0 = 0
            loop:
            r0 += 1
            if r0 != 0 goto loop
            exit
            """, instruction: 2, message: "BPF program is too large"),
    UnsafeCase(
        name: "helper the program type may not call", type: .socketFilter,
        code: """
            r2 = 0
            call bpf_xdp_adjust_head
            r0 = 0
            exit
            """, instruction: 1, message: "program of this type cannot use helper bpf_xdp_adjust_head#44"),
    UnsafeCase(name: "unknown helper", code: "call 9999\nr0 = 0\nexit", instruction: 0, message: "invalid func unknown#9999"),
    UnsafeCase(
        name: "map of the wrong type for the helper",
        code: """
            \(lookup(map: 1))
            r0 = 0
            exit
            """, instruction: 5, message: "cannot pass map_type 27 into func bpf_map_lookup_elem#1"),
    UnsafeCase(name: "division by an immediate zero", code: "r0 = 1\nr0 /= 0\nexit", instruction: 1, message: "div by zero"),
    UnsafeCase(
        name: "pointer arithmetic on a map pointer", code: "r1 = map[idx:0]\nr1 += 8\nr0 = 0\nexit", instruction: 2,
        message: "pointer arithmetic on map_ptr prohibited"),
    UnsafeCase(name: "bitwise operation on a pointer", code: "r1 &= 7\nr0 = 0\nexit", instruction: 0, message: "bitwise operator &= on pointer prohibited"),
    UnsafeCase(
        name: "write to the XDP context", code: "*(u32 *)(r1 +12) = 1\nr0 = 0\nexit", instruction: 0, message: "invalid bpf_context access off=12 size=4"),
    UnsafeCase(name: "misaligned stack access", code: "*(u64 *)(r10 -12) = 1\nr0 = 0\nexit", instruction: 0, message: "misaligned stack access"),
    UnsafeCase(name: "shift past the width", code: "r0 = 1\nr0 <<= 64\nexit", instruction: 1, message: "invalid shift 64"),
    UnsafeCase(name: "unreachable instruction", code: "r0 = 0\nexit\nr0 = 1\nexit", instruction: 2, message: "unreachable insn 2"),
    UnsafeCase(name: "calls nested too deep", code: "call pc+1\nexit\ncall pc-1\nexit", instruction: 2, message: "too deep"),
]

@Suite("Verifier: safe programs accepted, unsafe ones refused with the kernel's words")
struct VerifierTests {
    @Test("accepted", arguments: safeCases)
    func accepts(_ c: SafeCase) throws {
        let failure = try refusal(c.code, c.type)
        #expect(failure == nil, "\(failure.map(String.init(describing:)) ?? "")")
    }

    @Test("refused", arguments: unsafeCases)
    func refuses(_ c: UnsafeCase) throws {
        let failure = try #require(try refusal(c.code, c.type), "accepted an unsafe program")
        #expect(failure.instruction == c.instruction, "\(failure)")
        #expect(failure.message.contains(c.message), "\(failure)")
    }

    /// A crash the verifier fuzzer found: a function address (`BPF_PSEUDO_FUNC`) before the
    /// program's first instruction was reported by reading the instruction at that index.
    @Test("a function address before the program's start is refused, not a crash")
    func functionBeforeStart() throws {
        let code = [
            Instruction(opcode: 0x18, dst: 1, src: WideImmediateKind.function.rawValue, imm: -5), Instruction(opcode: 0),
            Instruction(opcode: 0xb7, dst: 0), Instruction(opcode: 0x95),
        ]
        #expect(throws: VerificationError.self) { try Verifier.verify(code, Verifier.Configuration(programType: .xdp)) }
        do { _ = try Verifier.verify(code, Verifier.Configuration(programType: .xdp)) } catch { #expect(error.message.contains("outside the program")) }
    }

    @Test("a refusal names the instruction and shows the registers there")
    func diagnostics() throws {
        let failure = try #require(try refusal("r2 = *(u32 *)(r1 +0)\nr0 = *(u8 *)(r2 +0)\nexit"))
        #expect(failure.text == "r0 = *(u8 *)(r2 +0)")
        #expect(failure.registers.contains("R1=ctx()"))
        #expect(failure.registers.contains("R2=pkt(r=0)"))
        #expect(failure.registers.contains("R10=fp0"))
        #expect(failure.description.hasPrefix("instruction 1 (r0 = *(u8 *)(r2 +0)): invalid access to packet"))
    }

    /// (Its time, beside the kernel's, is in `swiftbpf bench`.)
    @Test("pruning keeps many branches linear: a 100,000-instruction program is walked a few times at most")
    func scale() throws {
        // Blocks of twenty: a load of a context field, a branch on it over an instruction that
        // sets a register nothing reads, and arithmetic on live registers: 2^5,000 paths
        // without pruning, about one per block with it. (Like the kernel, the verifier allows
        // at most 8,192 branches pending at once.)
        var lines = ["r7 = *(u32 *)(r1 +16)", "r0 = 0"]
        var n = 0
        while lines.count < 100_000 {
            lines += ["r6 = *(u32 *)(r1 +12)", "if r6 > \(n % 97) goto +1", "r8 = \(n)"]
            lines += Array(repeating: ["r7 += 3", "r7 &= 1023", "r0 ^= r7"], count: 5).flatMap { $0 } + ["r9 = r7", "r9 *= 5"]
            n += 1
        }
        lines.append("exit")
        let report = try verify(lines.joined(separator: "\n"))
        #expect(report.processedInstructions < 4 * lines.count, "\(report.processedInstructions) instructions processed")
        #expect(report.prunedPaths > 1000)
    }

    /// Two paths meet with r2 = 0 on one and 100 on the other. When r2 is only stored, the
    /// second path is pruned (r2 is imprecise); when r2 moves a stack pointer, the first path's
    /// walk marks r2 precise back at the meeting point, so the second is walked and refused.
    @Test("precision: a number nobody relies on lets paths prune, one a pointer moves by does not")
    func precision() throws {
        func program(_ use: String) -> String {
            """
            r6 = *(u32 *)(r1 +0)
            r7 = *(u32 *)(r1 +4)
            if r6 > 10 goto +3
            r2 = 0
            r0 = 1
            goto +2
            r2 = 100
            r0 = 2
            if r7 > 3 goto +1
            r7 = 1
            r3 = r10
            r3 += -8
            \(use)
            r0 = 0
            exit
            """
        }
        let stored = try verify(program("*(u64 *)(r3 +0) = r2"))
        #expect(stored.prunedPaths > 0)
        let error = try #require(try refusal(program("r3 += r2\n*(u64 *)(r3 +0) = 1")))
        #expect(error.instruction == 13)
        // r3 may be fp-8+100: misaligned for 8 bytes, which the kernel checks before bounds.
        #expect(error.message.contains("misaligned stack access"), "\(error.message)")
    }

    @Test("processed instructions are bounded by the complexity limit")
    func complexityLimit() throws {
        var configuration = Verifier.Configuration(programType: .xdp)
        configuration.complexityLimit = 1000
        let code = try PseudoCAssembler.assemble("r0 = 0\nloop:\nr0 += 1\nif r0 < 5000 goto loop\nexit")
        #expect(throws: VerificationError.self) { try Verifier.verify(code, configuration) }
        configuration.complexityLimit = 100_000
        let report = try Verifier.verify(code, configuration)
        #expect(report.processedInstructions > 10_000)
    }
}

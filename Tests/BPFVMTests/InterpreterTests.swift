import BPFCore
import BPFVM
import Testing

private func run(_ source: String, memory: [UInt8] = [], mode: ExecutionMode = .fast) throws -> UInt64 {
    let vm = try Interpreter(try Assembler.assemble(source))
    var memory = memory
    return try memory.withUnsafeMutableBytes { try vm.run(memory: $0, mode: mode) }
}

@Suite("Interpreter")
struct InterpreterTests {
    @Test(
        "division and modulo by zero follow the kernel",
        arguments: [
            ("mov %r0, 7\nmov %r1, 0\ndiv %r0, %r1\nexit", UInt64(0)),
            ("mov %r0, 7\nmov %r1, 0\nmod %r0, %r1\nexit", 7),
            ("lddw %r0, 0x100000007\nmov %r1, 0\nmod32 %r0, %r1\nexit", 7),  // upper half zeroed
            ("lddw %r0, 0x100000007\nmod32 %r0, 0\nexit", 7),
            ("mov %r0, 7\ndiv %r0, 0\nexit", 0),
            ("mov %r0, -7\nmov %r1, 0\nsdiv %r0, %r1\nexit", 0),
            ("mov %r0, -7\nmov %r1, 0\nsmod %r0, %r1\nexit", UInt64(bitPattern: -7)),
            ("lddw %r0, 0x8000000000000000\nsdiv %r0, -1\nexit", 0x8000_0000_0000_0000),
            ("lddw %r0, 0x8000000000000000\nsmod %r0, -1\nexit", 0),
            ("mov %r0, -7\nsmod %r0, 2\nexit", UInt64(bitPattern: -1)),
        ])
    func divisionEdgeCases(source: String, expected: UInt64) throws {
        #expect(try run(source) == expected)
        #expect(try run(source, mode: .checked()) == expected)
    }

    @Test("checked mode reports an out-of-bounds read at its instruction")
    func checkedRead() throws {
        let source = "mov %r0, 0\nldxw %r0, [%r1+6]\nexit"
        #expect(try run(source, memory: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) == 0x0a09_0807)
        #expect {
            _ = try run(source, memory: [1, 2, 3, 4, 5, 6, 7, 8], mode: .checked())
        } throws: { error in
            guard let error = error as? ExecutionError, case let .memoryFault(_, size, write) = error.kind else { return false }
            return error.pc == 1 && size == 4 && !write
        }
    }

    @Test("checked mode confines the stack to the live frames")
    func checkedStack() throws {
        #expect(try run("stdw [%r10-512], 9\nldxdw %r0, [%r10-512]\nexit", mode: .checked()) == 9)
        #expect(throws: ExecutionError.self) { try run("stdw [%r10-520], 9\nmov %r0, 0\nexit", mode: .checked()) }
        #expect(throws: ExecutionError.self) { try run("stb [%r10+0], 9\nmov %r0, 0\nexit", mode: .checked()) }
        // A callee may write its caller's frame through a pointer, not below its own.
        let callee = """
            mov %r1, %r10
            call local f
            ldxdw %r0, [%r10-8]
            exit
            f:
            stdw [%r1-8], 42
            exit
            """
        #expect(try run(callee, mode: .checked()) == 42)
    }

    @Test("checked mode refuses writes to read-only regions")
    func readOnly() throws {
        let vm = try Interpreter(try Assembler.assemble("stb [%r1+0], 1\nmov %r0, 0\nexit"))
        var bytes: [UInt8] = [0]
        try bytes.withUnsafeMutableBytes { (buffer) throws in
            let base = UInt64(UInt(bitPattern: buffer.baseAddress))
            #expect(throws: ExecutionError.self) {
                try vm.run(base, mode: .checked(), regions: [MemoryRegion(buffer, writable: false)])
            }
            #expect(try vm.run(base, mode: .checked(), regions: [MemoryRegion(buffer, writable: true)]) == 0)
        }
        #expect(bytes == [1])
    }

    @Test("checked mode stops a runaway loop")
    func instructionLimit() throws {
        #expect {
            _ = try run("l:\nja l", mode: .checked(instructionLimit: 1000))
        } throws: { error in
            (error as? ExecutionError)?.kind == .instructionLimitExceeded(1000)
        }
    }

    @Test("calls nest at most eight frames deep")
    func callDepth() throws {
        let depth = { (n: Int) in
            (0..<n).map { "call local f\($0)\nexit\nf\($0):" }.joined(separator: "\n") + "\nmov %r0, 1\nexit"
        }
        #expect(try run(depth(7)) == 1)
        #expect {
            _ = try run(depth(8))
        } throws: { ($0 as? ExecutionError)?.kind == .callDepthExceeded }
    }

    @Test("each frame gets its own 512-byte stack and r6-r9 survive calls")
    func frames() throws {
        let source = """
            mov %r6, 6
            stdw [%r10-8], 1
            call local f
            ldxdw %r1, [%r10-8]
            add %r0, %r1
            add %r0, %r6
            exit
            f:
            mov %r6, 100
            stdw [%r10-8], 2
            ldxdw %r0, [%r10-8]
            exit
            """
        #expect(try run(source, mode: .checked()) == 2 + 1 + 6)
    }

    @Test("loading refuses what the runtime cannot run, naming the instruction")
    func loadErrors() throws {
        for (source, message) in [
            ("call 1\nexit", "bpf_map_lookup_elem#1"),
            ("call 1\nmov %r0, 0\nexit", "bpf_map_lookup_elem#1"),
        ] {
            #expect {
                _ = try Interpreter(try Assembler.assemble(source))
            } throws: { error in
                guard let error = error as? PreparationError else { return false }
                return error.index == 0 && error.description.contains(message)
            }
        }
        let mapLoad = [Instruction(opcode: 0x18, dst: 1, src: 1, imm: 3), Instruction(opcode: 0), Instruction(opcode: 0x95)]
        #expect(throws: PreparationError.self) { try Interpreter(mapLoad) }
        let kfunc = [Instruction(opcode: 0x85, src: CallKind.kfunc.rawValue, imm: 1234), Instruction(opcode: 0x95)]
        #expect { try Interpreter(kfunc) } throws: { ($0 as? PreparationError)?.description.contains("kernel function") == true }
    }

    @Test("helpers receive r1-r5 and the program's context; callx reaches them by id")
    func helpers() throws {
        var table = HelperTable()
        table.register(HelperID(rawValue: 100)) { a, b, c, d, e, context in
            let scale = HelperContext.at(context).pointee.userData!.load(as: UInt64.self)
            return (a + b + c + d + e) * scale
        }
        var scale: UInt64 = 3
        try withUnsafeMutableBytes(of: &scale) { data in
            let vm = try Interpreter(
                try Assembler.assemble(
                    """
                    mov %r1, 1
                    mov %r2, 2
                    mov %r3, 3
                    mov %r4, 4
                    mov %r5, 5
                    call 100
                    mov %r6, %r0
                    mov %r7, 100
                    call %r7
                    add %r0, %r6
                    exit
                    """), helpers: table, userData: data.baseAddress)
            #expect(try vm.run() == 90)
        }
        let missing = try Interpreter(try Assembler.assemble("mov %r1, 77\ncall %r1\nexit"))
        #expect(throws: ExecutionError.self) { try missing.run() }
    }

    @Test("the standard helpers answer")
    func standardHelpers() throws {
        let time = try run("call bpf_ktime_get_ns\nexit")
        #expect(time > 0)
        #expect(try run("call bpf_get_prandom_u32\nrsh %r0, 32\nexit") == 0)
        #expect(try run("call bpf_get_smp_processor_id\nexit") < 4096)
    }

    @Test("atomics act on memory and fetch old values")
    func atomics() throws {
        let source = """
            stdw [%r10-8], 10
            mov %r1, 5
            lock fetch add [%r10-8], %r1
            mov %r0, 15
            mov %r2, 99
            lock cmpxchg [%r10-8], %r2
            ldxdw %r3, [%r10-8]
            add %r3, %r1
            mov %r0, %r3
            exit
            """
        #expect(try run(source) == 99 + 10)
    }

    @Test("superinstructions keep jump targets into their second slot valid")
    func fusionTargets() throws {
        // `mov r2, r1; add r2, 5` fuses, yet the loop jumps to the add on its own.
        let source = """
            mov %r1, 1
            mov %r2, %r1
            loop:
            add %r2, 5
            jlt %r2, 100, loop
            mov %r0, %r2
            exit
            """
        #expect(try run(source) == 101)
        // A second source that is the fused destination reads the mov's source.
        #expect(try run("mov %r1, 3\nmov %r0, %r1\nmul %r0, %r0\nexit") == 9)
    }
}

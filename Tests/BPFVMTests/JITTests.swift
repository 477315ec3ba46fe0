import BPFPlatform
import BPFConformance
import BPFCore
import BPFTestSupport
@testable import BPFVM
import Testing
import Foundation

private let noJIT = "the JIT needs an x86-64 host"

private func both(_ source: String, memory: [UInt8] = [], options: JITProgram.Options = .init()) throws -> (interpreter: UInt64, jit: UInt64) {
    let code = try Assembler.assemble(source)
    // One buffer for both runs (programs may compute with its address), reset in between.
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(memory.count, 1), alignment: 16)
    defer { buffer.deallocate() }
    let region = UnsafeMutableRawBufferPointer(start: buffer.baseAddress, count: memory.count)
    region.copyBytes(from: memory)
    let interpreted = try Interpreter(code).run(memory: region, mode: .checked())
    let afterInterpreter = Array(region)
    region.copyBytes(from: memory)
    let compiled = try JITProgram(code, options: options).run(memory: region)
    #expect(Array(region) == afterInterpreter, "memory after the run")
    return (interpreted, compiled)
}

/// Runs llvm-mc's disassembler over `lines` (one instruction's bytes each, as `0x..` words).
private func llvmDisassembly(_ lines: [String]) throws -> [String]? {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/llvm-mc") else { return nil }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/llvm-mc")
    process.arguments = ["--disassemble", "-triple=x86_64", "--output-asm-variant=1"]
    let input = Pipe(), output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    try process.run()
    input.fileHandleForWriting.write(lines.joined(separator: "\n").data(using: .utf8)!)
    try input.fileHandleForWriting.close()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    var result: [String] = []
    var pendingLock = false
    for raw in text.split(separator: "\n") {
        let line = raw.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "\t", with: " ")
        if line.isEmpty || line.hasPrefix(".") { continue }
        if line == "lock" { pendingLock = true; continue }
        result.append(pendingLock ? "lock " + line : line)
        pendingLock = false
    }
    return result
}

@Suite("JIT (x86-64)", .enabled(if: JITProgram.isSupported, Comment(rawValue: noJIT)))
struct JITTests {
    @Test(
        "division and modulo edge cases give the interpreter's results",
        arguments: [
            "mov %r0, 7\nmov %r1, 0\ndiv %r0, %r1\nexit",
            "mov %r0, 7\nmov %r1, 0\nmod %r0, %r1\nexit",
            "lddw %r0, 0x100000007\nmov %r1, 0\nmod32 %r0, %r1\nexit",
            "lddw %r0, 0x8000000000000000\nmov %r3, -1\nsdiv %r0, %r3\nexit",
            "lddw %r0, 0x8000000000000000\nsmod %r0, -1\nexit",
            "mov32 %r0, 0x80000000\nmov %r2, -1\nsdiv32 %r0, %r2\nexit",
            "mov %r0, -7\nmov %r3, 2\nsmod %r0, %r3\nexit",
            "mov %r3, 100\nmov %r0, 7\ndiv %r3, %r0\nmov %r0, %r3\nexit",  // divisor in rax
            "mov %r3, 100\nmov %r4, 7\nmod %r3, %r4\nmov %r0, %r3\nexit",  // dividend in rdx
            "lddw %r4, 0x1234567890\nmov %r1, 4\nlsh %r4, %r1\nmov %r0, %r4\nexit",  // shift of rcx
            "mov %r1, 0xff\nmov %r4, 36\nlsh32 %r1, %r4\nmov %r0, %r1\nexit",
            "lddw %r1, 0xffffffff00000001\nmov %r4, 32\nlsh32 %r1, %r4\nmov %r0, %r1\nexit",  // count 0 still zero-extends
        ])
    func arithmetic(source: String) throws {
        let (interpreted, compiled) = try both(source)
        #expect(interpreted == compiled, "\(source)")
    }

    @Test(
        "every atomic operation, with the base, source and r0 in awkward registers",
        arguments: [
            "add", "or", "and", "xor", "fetch add", "fetch or", "fetch and", "fetch xor", "xchg", "cmpxchg",
        ], [false, true])
    func atomics(op: String, wide: Bool) throws {
        // r0 (rax, which cmpxchg uses) as the base and as the source, then r3 (rdx) as the source.
        for source in ["%r0", "%r3"] {
            let text = """
                mov %r0, %r1
                lddw %r3, 0x0f0f0f0f0f0f0f0f
                stdw [%r1+8], 0x3c
                lock \(op)\(wide ? "" : "32") [%r0+8], \(source)
                ldxdw %r2, [%r1+8]
                add %r0, %r2
                add %r0, %r3
                exit
                """
            let (interpreted, compiled) = try both(text, memory: Array(repeating: 0, count: 16))
            #expect(interpreted == compiled, "\(text)")
        }
    }

    @Test("errors are the interpreter's: call depth, unknown helper in callx")
    func errors() throws {
        let deep = "call local f\nexit\nf:\ncall local f\nexit"
        #expect(throws: ExecutionError(kind: .callDepthExceeded, pc: 2)) { try JITProgram(try Assembler.assemble(deep)).run() }
        #expect(throws: ExecutionError(kind: .callDepthExceeded, pc: 2)) { try Interpreter(try Assembler.assemble(deep)).run() }
        for id: Int32 in [9999, -1, 255, 5] {
            let callx = [Instruction(opcode: 0xb7, dst: 5, imm: id), Instruction(opcode: 0x8d, dst: 5), Instruction(opcode: 0x95)]
            if id == 5 {  // bpf_ktime_get_ns exists: both return a time
                #expect(try JITProgram(callx).run() > 0)
            } else {
                #expect(throws: ExecutionError(kind: .unknownHelper(Int64(id)), pc: 1)) { try JITProgram(callx).run() }
                #expect(throws: ExecutionError(kind: .unknownHelper(Int64(id)), pc: 1)) { try Interpreter(callx).run() }
            }
        }
        // Seven nested calls are allowed, and r6-r9 survive each.
        let seven = (0..<7).map { "call local f\($0)\nexit\nf\($0):\nmov %r6, \($0)" }.joined(separator: "\n") + "\nmov %r0, 1\nexit"
        let nested = try both("mov %r6, 42\n" + seven.replacingOccurrences(of: "call local f0\nexit", with: "call local f0\nadd %r0, %r6\nexit"))
        #expect(nested.interpreter == nested.jit && nested.jit == 43)
    }

    @Test("helpers get r1-r5 and the helper context; r6-r9 survive the call")
    func helpers() throws {
        var table = HelperTable.standard
        table.register(HelperID(rawValue: 200)) { r1, r2, r3, r4, r5, context in
            let base = HelperContext.at(context).pointee.userData!.load(as: UInt64.self)
            return base &+ r1 &* 1 &+ r2 &* 10 &+ r3 &* 100 &+ r4 &* 1000 &+ r5 &* 10000
        }
        let code = try Assembler.assemble(
            """
            mov %r6, 6
            mov %r7, 7
            mov %r8, 8
            mov %r9, 9
            mov %r1, 1
            mov %r2, 2
            mov %r3, 3
            mov %r4, 4
            mov %r5, 5
            call 200
            add %r0, %r6
            add %r0, %r7
            add %r0, %r8
            add %r0, %r9
            exit
            """)
        var base: UInt64 = 1_000_000
        let result = try withUnsafeMutableBytes(of: &base) { raw in
            try JITProgram(code, helpers: table, userData: raw.baseAddress).run()
        }
        #expect(result == 1_000_000 + 54321 + 30)
    }

    @Test("constant blinding keeps chosen constants out of the code and the results unchanged")
    func blinding() throws {
        let source = """
            mov %r0, 0x41414141
            add %r0, 0x41414141
            lddw %r2, 0x4141414141414141
            xor %r0, %r2
            stw [%r10-4], 0x41414141
            ldxw %r3, [%r10-4]
            jeq %r3, 0x41414141, +1
            mov %r0, 0
            exit
            """
        let code = try Assembler.assemble(source)
        let plain = try JITProgram(code), blinded = try JITProgram(code, options: .init(blindConstants: true))
        func containsPattern(_ bytes: [UInt8]) -> Bool {
            bytes.indices.dropLast(3).contains { i in bytes[i..<i + 4].allSatisfy { $0 == 0x41 } }
        }
        #expect(containsPattern(plain.machineCode))
        #expect(!containsPattern(blinded.machineCode))
        #expect(try plain.run() == blinded.run())
        #expect(try plain.run() == Interpreter(code).run())
    }

    @Test("code memory is mapped read-execute, never writable")
    func writeXorExecute() throws {
        let jit = try JITProgram(try Assembler.assemble("mov %r0, 1\nexit"))
        let address = jit.codeAddress
        let maps = String(decoding: try #require(FileHandle(forReadingAtPath: "/proc/self/maps")).readDataToEndOfFile(), as: UTF8.self)
        let line = maps.split(separator: "\n").first { line in
            let range = line.split(separator: " ")[0].split(separator: "-").map { UInt64($0, radix: 16)! }
            return range[0] <= address && address < range[1]
        }
        let permissions = try #require(line).split(separator: " ")[1]
        #expect(permissions.hasPrefix("r-x"), "\(permissions)")
    }

    /// The encoder checked against LLVM's disassembler: every instruction of the code for all
    /// conformance programs, plain and blinded, must decode to the text the listing claims.
    @Test(
        "every emitted instruction decodes, with llvm-mc, to the listing's text",
        .enabled(if: SharedFixtures.path("conformance/tests") != nil, "../shared/conformance is absent"),
        .enabled(if: fileExists("/usr/bin/llvm-mc"), "llvm-mc is not installed (apt-get install llvm)"))
    func encodingMatchesLLVM() throws {
        let directory = try #require(SharedFixtures.path("conformance/tests"))
        let files = try #require(ConformanceRunner.files(in: directory))
        var programs: [JITProgram] = []
        for file in files {
            guard let text = readTextFile(file), let code = try? ConformanceFile(text: text).instructions else { continue }
            for blind in [false, true] {
                if let program = try? JITProgram(code, options: .init(blindConstants: blind, keepListing: true)) { programs.append(program) }
            }
        }
        let instructions = programs.flatMap(\.assembly)
        #expect(instructions.count > 10_000)
        let lines = instructions.map { $0.bytes.map { "0x" + String($0, radix: 16) }.joined(separator: " ") }
        let decoded = try #require(try llvmDisassembly(lines), "llvm-mc ran")
        try #require(decoded.count == instructions.count, "llvm-mc decoded \(decoded.count) of \(instructions.count) instructions")
        var mismatches = 0, mnemonics: Set<String> = []
        for (ours, theirs) in zip(instructions, decoded) {
            let mnemonic = String(ours.text.split(separator: " ")[0])
            mnemonics.insert(mnemonic)
            // Jumps and calls to labels: LLVM shows the displacement, we show the target.
            let same: Bool
            if let target = ours.text.split(separator: " ").last, target.hasPrefix("0x"), mnemonic.hasPrefix("j") || mnemonic == "call" {
                let displacement = theirs.split(separator: " ").last.flatMap { Int($0) }
                same = theirs.hasPrefix(mnemonic + " ") && displacement.map { ours.offset + ours.bytes.count + $0 } == Int(target.dropFirst(2), radix: 16)
            } else {
                same = theirs == ours.text
            }
            if !same {
                mismatches += 1
                if mismatches <= 10 { Issue.record("\(ours.bytes): ours '\(ours.text)', llvm-mc '\(theirs)'") }
            }
        }
        #expect(mismatches == 0)
        #expect(mnemonics.count > 40, "\(mnemonics.sorted())")
    }
}

/// The arm64 backend's encoder checked against LLVM's disassembler, on any host: every
/// instruction of the code for all conformance programs (LSE atomics and exclusive loops,
/// plain and blinded) decodes to the text the listing claims.
@Suite("JIT (arm64) encodings")
struct ARM64EncodingTests {
    @Test(
        "every emitted arm64 instruction decodes, with LLVM, to the listing's text",
        .enabled(if: SharedFixtures.path("conformance/tests") != nil, "../shared/conformance is absent"),
        .enabled(if: (try? MachineCodeDisassembler(.arm64)) != nil, "LLVM's shared library is not installed (apt-get install llvm)"))
    func encodingMatchesLLVM() throws {
        let directory = try #require(SharedFixtures.path("conformance/tests"))
        let files = try #require(ConformanceRunner.files(in: directory))
        let disassembler = try MachineCodeDisassembler(.arm64)
        var checked = 0, mismatches = 0, mnemonics: Set<String> = []
        for file in files {
            guard let text = readTextFile(file), let instructions = try? ConformanceFile(text: text).instructions,
                let program = try? DecodedProgram(instructions, helpers: .standard)
            else { continue }
            for (lse, blind) in [(true, false), (false, false), (true, true)] {
                let code = try NativeCode(program, for: .arm64, options: .init(blindConstants: blind, keepListing: true), largeSystemExtensions: lse)
                for line in code.assembly {
                    let theirs = disassembler.decode(line.bytes, address: UInt64(line.offset)).first?.text ?? "?"
                    checked += 1
                    mnemonics.insert(String(line.text.prefix { $0 != " " }))
                    if theirs != line.text {
                        mismatches += 1
                        if mismatches <= 10 { Issue.record("\(hexString(line.bytes, separator: " ")): ours '\(line.text)', LLVM '\(theirs)'") }
                    }
                }
            }
        }
        #expect(checked > 10_000 && mismatches == 0)
        #expect(mnemonics.count > 40, "\(mnemonics.sorted())")
    }
}

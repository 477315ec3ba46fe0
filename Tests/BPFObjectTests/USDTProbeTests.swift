import BPFObject
import BPFTestSupport
import Testing

/// A minimal ELF64 executable for `machine` holding `notes` as `.note.stapsdt`, a `.text` at
/// 0x401000 (file offset 0x1000) and `.probes` at 0x404000 (file offset 0x2000).
private func executable(notes: [UInt8], machine: UInt16 = 62) -> [UInt8] {
    let names: [UInt8] = Array("\0.note.stapsdt\0.text\0.probes\0.shstrtab\0".utf8)
    var bytes = [UInt8](repeating: 0, count: 0x3000)
    func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { for (i, b) in $0.enumerated() { bytes[offset + i] = b } }
    }
    bytes[0..<4] = [0x7f, 0x45, 0x4c, 0x46]
    bytes[4] = 2
    bytes[5] = 1
    bytes[6] = 1
    put(UInt16(2), at: 16)
    put(machine, at: 18)
    let notesAt = bytes.count
    bytes += notes
    let namesAt = bytes.count
    bytes += names
    let table = bytes.count
    put(UInt64(table), at: 0x28)
    put(UInt16(64), at: 0x3a)
    put(UInt16(5), at: 0x3c)
    put(UInt16(4), at: 0x3e)
    bytes += [UInt8](repeating: 0, count: 5 * 64)
    // name offset, type, flags, address, offset, size
    let sections: [(UInt32, UInt32, UInt64, UInt64, Int, Int)] = [
        (1, 7, 0, 0, notesAt, notes.count), (15, 1, 6, 0x401000, 0x1000, 0x1000), (21, 1, 3, 0x404000, 0x2000, 0x1000),
        (29, 3, 0, 0, namesAt, names.count),
    ]
    for (i, s) in sections.enumerated() {
        let at = table + (i + 1) * 64
        put(s.0, at: at)
        put(s.1, at: at + 4)
        put(s.2, at: at + 8)
        put(s.3, at: at + 16)
        put(UInt64(s.4), at: at + 24)
        put(UInt64(s.5), at: at + 32)
    }
    return bytes
}

/// One stapsdt note.
private func note(provider: String, name: String, arguments: String, address: UInt64 = 0x401010, semaphore: UInt64 = 0x404002) -> [UInt8] {
    var description: [UInt8] = []
    for v in [address, 0, semaphore] { withUnsafeBytes(of: v.littleEndian) { description += $0 } }
    description += Array(provider.utf8) + [0] + Array(name.utf8) + [0] + Array(arguments.utf8) + [0]
    var bytes: [UInt8] = []
    for v in [UInt32(8), UInt32(description.count), 3] { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    bytes += Array("stapsdt\0".utf8)
    bytes += description + [UInt8](repeating: 0, count: (4 - description.count % 4) % 4)
    return bytes
}

@Suite("USDT probes from .note.stapsdt")
struct USDTProbeTests {
    @Test("a probe's address, semaphore and file offsets")
    func probe() throws {
        let probes = try USDTProbe.all(inELF: executable(notes: note(provider: "app", name: "request", arguments: "-4@%edi 8@-8(%rbp) 8@$42")))
        try #require(probes.count == 1)
        #expect(probes[0].provider == "app" && probes[0].name == "request")
        #expect(probes[0].address == 0x401010 && probes[0].fileOffset == 0x1010)
        #expect(probes[0].semaphoreFileOffset == 0x2002)
        #expect(
            probes[0].arguments == [
                USDTArgument(size: 4, signed: true, location: .register(offset: 112)),
                USDTArgument(size: 8, signed: false, location: .memory(register: 32, offset: -8)),
                USDTArgument(size: 8, signed: false, location: .constant(42)),
            ])
    }

    @Test(
        "argument locations as each architecture writes them",
        arguments: [
            ("8@%rax", UInt16(62), USDTArgument.Location.register(offset: 80)),
            ("-2@%r12w", 62, .register(offset: 24)),
            ("1@(%rsp)", 62, .memory(register: 152, offset: 0)),
            ("8@0x10(%rdi)", 62, .memory(register: 112, offset: 16)),
            ("-4@$-9", 62, .constant(-9)),
            ("8@x3", 183, .register(offset: 24)),
            ("-4@w30", 183, .register(offset: 240)),
            ("8@[sp, 16]", 183, .memory(register: 248, offset: 16)),
            ("8@[x1]", 183, .memory(register: 8, offset: 0)),
            ("4@7", 183, .constant(7)),
        ])
    func locations(text: String, machine: UInt16, expected: USDTArgument.Location) throws {
        let probes = try USDTProbe.all(inELF: executable(notes: note(provider: "p", name: "n", arguments: text), machine: machine))
        #expect(probes.first?.arguments.first?.location == expected)
    }

    @Test(
        "bad notes are refused with the probe and argument named",
        arguments: [
            ("8@%xmm0", "unknown register"), ("3@%rax", "no size"), ("8@16(%rax,%rdx,8)", "indexed"), ("8@$x", "bad constant"),
            ("8@-8(%rbp", "not a register"),
        ])
    func refusals(text: String, message: String) throws {
        let error = #expect(throws: ObjectError.self) { try USDTProbe.all(inELF: executable(notes: note(provider: "p", name: "n", arguments: text))) }
        #expect(error?.description.contains("p:n") == true && error?.description.contains(message) == true, "\(String(describing: error))")
    }

    @Test("a probe outside every section, and another machine's notes, are refused")
    func placement() throws {
        #expect(throws: ObjectError.self) { try USDTProbe.all(inELF: executable(notes: note(provider: "p", name: "n", arguments: "", address: 0x999999))) }
        #expect(throws: ObjectError.self) { try USDTProbe.all(inELF: executable(notes: note(provider: "p", name: "n", arguments: "8@%rax"), machine: 40)) }
    }

    /// Mutated notes: every parse ends in probes or an ObjectError, in bounded time; the
    /// outcomes are counted to show the mutations reach the parser's refusals, not one of them.
    @Test("3000 mutated note sections parse or are refused, reaching every kind of refusal")
    func mutations() throws {
        let seed = note(provider: "app", name: "request", arguments: "-4@%edi 8@-8(%rbp) 8@$42") + note(provider: "app", name: "done", arguments: "8@%rax")
        var rng = SplitMix64(state: 20)
        var outcomes: [String: Int] = [:]
        let alphabet = Array("0123456789@%$()-,[] xrspw".utf8)
        for _ in 0..<3000 {
            var notes = seed
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let i = Int(rng.next() % UInt64(notes.count))
                switch rng.next() % 4 {
                case 0: notes[i] = UInt8(truncatingIfNeeded: rng.next())
                case 1: notes[i] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 2: notes.removeSubrange(i..<min(notes.count, i + Int(rng.next() % 8) + 1))
                default: notes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: i)
                }
                if notes.isEmpty { notes = [0] }
            }
            do {
                let probes = try USDTProbe.all(inELF: executable(notes: notes))
                outcomes["parsed \(probes.count)", default: 0] += 1
            } catch {
                let text = error.description
                let kind =
                    ["past the end", "too short", "lacks its", "in no section", "no size", "unknown register", "bad", "indexed", "unclosed", "not a register"]
                    .first { text.contains($0) } ?? "other: \(text)"
                outcomes[kind, default: 0] += 1
            }
        }
        let refusals = outcomes.keys.filter { !$0.hasPrefix("parsed") }
        #expect(refusals.count >= 6, "\(outcomes)")
        #expect(outcomes.keys.contains("parsed 2") && outcomes.keys.contains { $0.hasPrefix("parsed") && $0 != "parsed 2" }, "\(outcomes)")
        #expect(!refusals.contains { $0.hasPrefix("other") }, "\(outcomes)")
    }
}

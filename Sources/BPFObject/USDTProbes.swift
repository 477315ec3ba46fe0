/// A USDT probe site of an executable or shared library, as `sys/sdt.h` records it in a
/// `.note.stapsdt` note: where the probe's `nop` is, its semaphore, and where each argument is
/// at that instruction.
public struct USDTProbe: Sendable, Equatable {
    /// The provider and the probe's name (`DTRACE_PROBE(provider, name)`).
    public var provider: String
    public var name: String
    /// The probe's address (its `nop`), adjusted for prelinking as `.stapsdt.base` says.
    public var address: UInt64
    /// Its offset in the file: what a uprobe is attached at.
    public var fileOffset: UInt64
    /// The semaphore's file offset (the uprobe's reference counter), nil when the probe has none.
    public var semaphoreFileOffset: UInt64?
    /// The semaphore's address, nil when the probe has none.
    public var semaphoreAddress: UInt64?
    /// Where each argument is, in order.
    public var arguments: [USDTArgument]
    /// The argument text as the note holds it (`-4@%edi 8@-8(%rbp)`).
    public var argumentText: String

    /// Every probe of the ELF64 little-endian executable or library `bytes`, in note order.
    /// - Throws: ``ObjectError`` naming the note and what is wrong with it.
    public static func all(inELF bytes: [UInt8]) throws(ObjectError) -> [USDTProbe] {
        let elf = try ELFFile(bytes: bytes, anyMachine: true)
        guard let notes = elf.section(named: ".note.stapsdt") else { return [] }
        let architecture = try USDTArgument.Architecture(machine: elf.machine)
        let data = Array(elf.data(of: notes)), r = ByteReader(data)
        let base = elf.section(named: ".stapsdt.base")
        func fileOffset(_ address: UInt64) -> UInt64? {
            elf.sections.first { $0.type != ELFFile.sectionNoBits && $0.address != 0 && address >= $0.address && address - $0.address < UInt64($0.size) }
                .map { address - $0.address + UInt64($0.offset) }
        }
        var probes: [USDTProbe] = [], at = 0
        while at + 12 <= data.count {
            let nameSize = Int(try r.u32(at)), descriptionSize = Int(try r.u32(at + 4)), type = try r.u32(at + 8)
            let nameStart = at + 12, descriptionStart = nameStart + (nameSize + 3) & ~3
            let next = descriptionStart + (descriptionSize + 3) & ~3
            guard nameSize <= data.count, descriptionSize <= data.count, next <= data.count else {
                throw ObjectError(section: ".note.stapsdt", offset: at, "note runs past the end of the section")
            }
            defer { at = next }
            guard type == 3, data[nameStart..<nameStart + nameSize].prefix(while: { $0 != 0 }).elementsEqual("stapsdt".utf8) else { continue }
            guard descriptionSize >= 24 + 3 else { throw ObjectError(section: ".note.stapsdt", offset: at, "note of \(descriptionSize) bytes is too short") }
            var address = try r.u64(descriptionStart), semaphore = try r.u64(descriptionStart + 16)
            let linkedBase = try r.u64(descriptionStart + 8)
            if let base, base.address != linkedBase {  // prelinked: move by as much as the base moved
                address = address &+ base.address &- linkedBase
                if semaphore != 0 { semaphore = semaphore &+ base.address &- linkedBase }
            }
            let strings = data[(descriptionStart + 24)..<(descriptionStart + descriptionSize)].split(separator: 0, omittingEmptySubsequences: false)
            guard strings.count >= 3 else { throw ObjectError(section: ".note.stapsdt", offset: at, "note lacks its provider, name or arguments") }
            let provider = String(decoding: strings[0], as: UTF8.self), name = String(decoding: strings[1], as: UTF8.self)
            let text = String(decoding: strings[2], as: UTF8.self)
            guard let offset = fileOffset(address) else {
                throw ObjectError(
                    section: ".note.stapsdt", offset: at, "probe \(provider):\(name) at 0x\(String(address, radix: 16)) is in no section of the file")
            }
            var arguments: [USDTArgument] = []
            for spec in Self.split(arguments: text) {
                do throws(USDTArgument.Failure) { arguments.append(try USDTArgument(parsing: spec, for: architecture)) } catch {
                    throw ObjectError(section: ".note.stapsdt", offset: at, "probe \(provider):\(name): argument '\(spec)': \(error.reason)")
                }
            }
            guard arguments.count <= USDTSpecification.maximumArguments else {
                throw ObjectError(section: ".note.stapsdt", offset: at, "probe \(provider):\(name) has \(arguments.count) arguments, more than 12")
            }
            probes.append(
                USDTProbe(
                    provider: provider, name: name, address: address, fileOffset: offset,
                    semaphoreFileOffset: semaphore == 0 ? nil : fileOffset(semaphore), semaphoreAddress: semaphore == 0 ? nil : semaphore,
                    arguments: arguments, argumentText: text))
        }
        return probes
    }
}

extension USDTProbe {
    /// A probe as libbpf's `SEC("usdt/BINARY:PROVIDER:NAME")` names it (the text after
    /// `usdt/`), the binary's path possibly holding colons of its own; nil when a part is missing.
    public static func target(_ text: String) -> (binary: String, provider: String, name: String)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 3 else { return nil }
        return (parts.dropLast(2).joined(separator: ":"), String(parts[parts.count - 2]), String(parts[parts.count - 1]))
    }

    /// The note's arguments, split at spaces outside brackets (arm64 writes `8@[sp, 16]`).
    static func split(arguments text: String) -> [Substring] {
        var parts: [Substring] = [], depth = 0, start = text.startIndex
        for i in text.indices {
            switch text[i] {
            case "[": depth += 1
            case "]": depth -= 1
            case " " where depth <= 0:
                if start < i { parts.append(text[start..<i]) }
                start = text.index(after: i)
            default: break
            }
        }
        if start < text.endIndex { parts.append(text[start...]) }
        return parts
    }
}

/// One argument of a USDT probe: its size and sign, and where it is when the probe fires.
public struct USDTArgument: Sendable, Equatable {
    /// The machines whose argument text is understood.
    public enum Architecture: Sendable {
        case x86_64, arm64

        init(machine: UInt16) throws(ObjectError) {
            switch machine {
            case 62: self = .x86_64
            case 183: self = .arm64
            default: throw ObjectError(offset: 18, "USDT arguments of machine \(machine) are not understood (x86-64 and arm64 are)")
            }
        }

        /// The machine this code runs on.
        public static var host: Architecture {
            #if arch(arm64)
            .arm64
            #else
            .x86_64
            #endif
        }
    }

    /// Where an argument is when the probe fires.
    public enum Location: Sendable, Equatable {
        /// A constant (`4@$5`, arm64 `4@5`).
        case constant(Int64)
        /// A register's value (`8@%rdi`, arm64 `8@x0`); the register as its `pt_regs` offset.
        case register(offset: Int16)
        /// Memory at a register plus an offset (`8@-8(%rbp)`, arm64 `8@[sp, 16]`).
        case memory(register: Int16, offset: Int64)
    }

    /// The argument's size in bytes: 1, 2, 4 or 8.
    public var size: Int
    /// Whether it is sign-extended to 64 bits (a negative size in the note).
    public var signed: Bool
    public var location: Location

    struct Failure: Error { var reason: String }

    /// An argument of `size` bytes at `location`.
    public init(size: Int, signed: Bool, location: Location) {
        self.size = size
        self.signed = signed
        self.location = location
    }

    /// Parses one argument (`-4@%edi`), the registers named as `architecture` names them.
    init(parsing text: Substring, for architecture: Architecture) throws(Failure) {
        guard let at = text.firstIndex(of: "@"), let declared = Int(text[..<at]), [1, 2, 4, 8].contains(abs(declared)) else {
            throw Failure(reason: "no size (1, 2, 4 or 8, negative when signed) before '@'")
        }
        size = abs(declared)
        signed = declared < 0
        let place = text[text.index(after: at)...]
        switch architecture {
        case .x86_64: location = try Self.x86Location(place)
        case .arm64: location = try Self.arm64Location(place)
        }
    }

    /// `$IMM`, `%REG`, `OFF(%REG)`, `(%REG)`.
    private static func x86Location(_ text: Substring) throws(Failure) -> Location {
        if text.hasPrefix("$") {
            guard let value = integer(text.dropFirst()) else { throw Failure(reason: "bad constant") }
            return .constant(value)
        }
        if text.hasPrefix("%") { return .register(offset: try x86Register(text.dropFirst())) }
        guard let open = text.firstIndex(of: "("), text.hasSuffix(")") else { throw Failure(reason: "not a register, constant or memory operand") }
        let inside = text[text.index(after: open)..<text.index(before: text.endIndex)]
        guard inside.hasPrefix("%"), !inside.contains(",") else { throw Failure(reason: "indexed memory operands are not supported") }
        let displacement = text[..<open]
        guard let offset = displacement.isEmpty ? 0 : integer(displacement) else { throw Failure(reason: "bad displacement") }
        return .memory(register: try x86Register(inside.dropFirst()), offset: offset)
    }

    /// `IMM`, `xN`/`wN`/`sp`, `[REG]`, `[REG, OFF]`.
    private static func arm64Location(_ text: Substring) throws(Failure) -> Location {
        if text.hasPrefix("[") {
            guard text.hasSuffix("]") else { throw Failure(reason: "unclosed '['") }
            let parts = text.dropFirst().dropLast().split(separator: ",").map { $0.trimmingPrefix(" ") }
            guard (1...2).contains(parts.count), let offset = parts.count == 2 ? integer(parts[1]) : 0 else { throw Failure(reason: "bad memory operand") }
            return .memory(register: try arm64Register(parts[0]), offset: offset)
        }
        if let value = integer(text) { return .constant(value) }
        return .register(offset: try arm64Register(text))
    }

    private static func integer(_ text: Substring) -> Int64? {
        let negative = text.hasPrefix("-"), digits = negative || text.hasPrefix("+") ? text.dropFirst() : text
        let value = digits.hasPrefix("0x") ? Int64(digits.dropFirst(2), radix: 16) : Int64(digits)
        return value.map { negative ? -$0 : $0 }
    }

    /// `struct pt_regs` offsets of x86-64's registers, under every name of their low parts.
    private static func x86Register(_ name: Substring) throws(Failure) -> Int16 {
        let order: [[String]] = [
            ["r15", "r15d", "r15w", "r15b"], ["r14", "r14d", "r14w", "r14b"], ["r13", "r13d", "r13w", "r13b"], ["r12", "r12d", "r12w", "r12b"],
            ["rbp", "ebp", "bp", "bpl"], ["rbx", "ebx", "bx", "bl", "bh"], ["r11", "r11d", "r11w", "r11b"], ["r10", "r10d", "r10w", "r10b"],
            ["r9", "r9d", "r9w", "r9b"], ["r8", "r8d", "r8w", "r8b"], ["rax", "eax", "ax", "al", "ah"], ["rcx", "ecx", "cx", "cl", "ch"],
            ["rdx", "edx", "dx", "dl", "dh"], ["rsi", "esi", "si", "sil"], ["rdi", "edi", "di", "dil"], ["orig_rax"], ["rip", "eip"], ["cs"],
            ["eflags"], ["rsp", "esp", "sp", "spl"],
        ]
        guard let index = order.firstIndex(where: { $0.contains(String(name)) }) else { throw Failure(reason: "unknown register %\(name)") }
        return Int16(index * 8)
    }

    /// `struct user_pt_regs` offsets of arm64's registers: x0–x30, sp, pc.
    private static func arm64Register(_ name: Substring) throws(Failure) -> Int16 {
        if name == "sp" { return 31 * 8 }
        guard let first = name.first, first == "x" || first == "w", let n = Int16(name.dropFirst()), (0...30).contains(n) else {
            throw Failure(reason: "unknown register \(name)")
        }
        return n * 8
    }
}

/// libbpf's record of how to find a USDT probe's arguments (`struct __bpf_usdt_spec` in
/// `usdt.bpf.h`), which its programs read from the `__bpf_usdt_specs` map by their attach
/// cookie: what both backends write before a `usdt` program runs.
public enum USDTSpecification {
    /// `BPF_USDT_MAX_ARG_CNT`.
    public static let maximumArguments = 12
    /// The map of specifications and the size of one.
    public static let mapName = "__bpf_usdt_specs", size = 208

    /// The record for `arguments` with `cookie` (what `bpf_usdt_cookie` returns).
    public static func encode(_ arguments: [USDTArgument], cookie: UInt64 = 0) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: size)
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { for (i, b) in $0.enumerated() { bytes[offset + i] = b } }
        }
        for (i, argument) in arguments.prefix(maximumArguments).enumerated() {
            let at = i * 16
            // enum __bpf_usdt_arg_type: CONST, REG, REG_DEREF.
            switch argument.location {
            case .constant(let value):
                put(UInt64(bitPattern: value), at: at)
                put(UInt32(0), at: at + 8)
            case .register(let register):
                put(UInt32(1), at: at + 8)
                put(register, at: at + 12)
            case .memory(let register, let offset):
                put(UInt64(bitPattern: offset), at: at)
                put(UInt32(2), at: at + 8)
                put(register, at: at + 12)
            }
            bytes[at + 14] = argument.signed ? 1 : 0
            bytes[at + 15] = UInt8(64 - argument.size * 8)  // arg_bitshift
        }
        put(cookie, at: 192)
        put(Int16(min(arguments.count, maximumArguments)), at: 200)
        return bytes
    }
}

import BPFPlatform
import BPFCore
import BPFMaps
import BPFVerifier

/// One verifier test vector in PREVAIL's YAML format: a state before, code in the kernel's
/// pseudo-C syntax (labelled blocks), and what PREVAIL concludes — the invariant after and the
/// safety messages. SwiftBPF judges the verdict: safe exactly when the case expects no message.
public struct VerifierTestCase: Sendable {
    /// The case's name (`test-case`) and its file.
    public var name: String
    public var file: String
    public var options: [String]
    public var pre: [String]
    public var blocks: [(label: String?, lines: [String])]
    /// The messages PREVAIL reports; none means the program is safe.
    public var messages: [String]
    /// Whether the case expects the program to be refused before analysis.
    public var expectsException: Bool

    /// Whether the expected verdict is "safe": no message but PREVAIL's notes that an
    /// `assume` can never hold ("Code becomes unreachable"), which say nothing unsafe runs.
    public var expectsSafe: Bool {
        !expectsException && messages.allSatisfy { $0.contains("Code becomes unreachable") }
    }
}

/// Reads and runs the verifier test vectors (`../shared/verifier-tests`).
public enum VerifierTestVectors {
    /// Why a vector file could not be read.
    public struct ReadError: Error, CustomStringConvertible {
        public var file: String
        public var message: String
        public var description: String { "\(file): \(message)" }
    }

    /// Every case of every `.yaml` file under `directory` (its `test-data` folder when it has one).
    public static func load(directory: String) throws(ReadError) -> [VerifierTestCase] {
        var dir = directory
        if listDirectory(dir + "/test-data") != nil { dir += "/test-data" }
        guard let names = listDirectory(dir) else { throw ReadError(file: dir, message: "cannot list the directory") }
        var cases: [VerifierTestCase] = []
        for name in names.sorted() where name.hasSuffix(".yaml") {
            let path = dir + "/" + name
            guard let bytes = readFile(path) else { throw ReadError(file: path, message: "cannot read the file") }
            cases += try parse(String(decoding: bytes, as: UTF8.self), file: name)
        }
        return cases
    }

    static func parse(_ text: String, file: String) throws(ReadError) -> [VerifierTestCase] {
        let documents: [YAMLNode]
        do { documents = try TestVectorYAML.documents(text) } catch { throw ReadError(file: file, message: "YAML: \(error)") }
        return documents.compactMap { document in
            guard document.mapping != nil else { return nil }
            func strings(_ key: String) -> [String] { document[key]?.sequence?.compactMap(\.string) ?? [] }
            let blocks = (document["code"]?.mapping ?? []).map { entry in
                (entry.key as String?, (entry.value.string ?? "").split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
            }
            return VerifierTestCase(
                name: document["test-case"]?.string ?? "?", file: file, options: strings("options"), pre: strings("pre"),
                blocks: blocks, messages: strings("messages"), expectsException: document["expected-exception"] != nil)
        }
    }

    /// What SwiftBPF concluded of one case.
    public struct Outcome: Sendable {
        public var safe: Bool
        /// Our reason for refusing, when we did.
        public var reason: String?
        public var agrees: Bool
    }

    /// Verifies a case's code from its pre-state; a pre-state that allows several register
    /// types (`r1.type in {stack, shared}`) is verified once per type, safe only if all are.
    ///
    /// The verifier runs without the kernel's rules that safety does not need (stack
    /// alignment, shift counts, unreachable code: ``Verifier/Configuration/kernelRules``), which
    /// PREVAIL does not have either. `assume c` lines (PREVAIL's way of stating a fact) become
    /// a jump past the end when `c` does not hold, which ends that path.
    public static func run(_ testCase: VerifierTestCase) -> Outcome {
        let code: [Instruction]
        let blocks = testCase.blocks.map { block in (block.label, block.lines.map(rewriteAssume)) }
        do { code = try PseudoCAssembler.assemble(blocks) } catch {
            return Outcome(safe: false, reason: "assembler: \(error)", agrees: !testCase.expectsSafe)
        }
        for setup in PreState.alternatives(testCase.pre) {
            var configuration = Verifier.Configuration(programType: .xdp, maps: setup.maps, context: testContext)
            configuration.endIsExit = true
            configuration.kernelRules = false  // PREVAIL's rules: see `run`
            configuration.anyHelper = true
            configuration.allowIndirectCalls = true  // PREVAIL has callx
            configuration.hasFunctionInfo = true  // and no rule tied to BTF function info
            configuration.entry = setup.entry
            configuration.rejectDivisionByZero = testCase.options.contains("!allow_division_by_zero")
            configuration.complexityLimit = 100_000
            do { _ = try Verifier.verify(code, configuration) } catch {
                return Outcome(safe: false, reason: "\(error.instruction): \(error.message)", agrees: !testCase.expectsSafe)
            }
        }
        return Outcome(safe: true, reason: nil, agrees: testCase.expectsSafe)
    }

    /// `assume a op b` as `if a !op b goto <end of program>`.
    static func rewriteAssume(_ line: String) -> String {
        let body = line.drop { $0 == " " || $0 == "\t" }
        guard body.hasPrefix("assume ") else { return line }
        let words = body.dropFirst(7).split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        let negations = [
            "==": "!=", "!=": "==", ">": "<=", ">=": "<", "<": ">=", "<=": ">",
            "s>": "s<=", "s>=": "s<", "s<": "s>=", "s<=": "s>",
        ]
        guard words.count >= 3, let negated = negations[words[1]] else { return line }
        return "if \(words[0]) \(negated) \(words[2]) goto <__end>"
    }

    /// The context PREVAIL's harness gives: 64 bytes, packet data at 0 and end at 4.
    static let testContext = ContextLayout(size: 64, pointerFields: [(0, 4, .packet), (4, 4, .packetEnd)], readable: [8..<64], writable: [8..<64])
}

/// A case's pre-state as SwiftBPF's entry frame.
struct PreState {
    var entry: EntryState
    var maps: [MapShape]

    /// PREVAIL's test map: 4-byte keys and values, 4 entries.
    static let testMap = MapShape(type: .hash, keySize: 4, valueSize: 4, maxEntries: 4)
    static let programArray = MapShape(type: .progArray, keySize: 4, valueSize: 4, maxEntries: 4)

    /// One entry state per combination of the register types the constraints allow.
    static func alternatives(_ pre: [String]) -> [PreState] {
        var facts: [String: String] = [:]  // "r1.svalue" -> "[0, 5]"
        var typeChoices: [(register: Int, types: [String])] = []
        var stack: [(range: ClosedRange<Int>, key: String, value: String)] = []
        for constraint in pre {
            let c = constraint.filter { $0 != " " }
            if let inRange = c.firstRange(of: ".typein{") {
                let r = Int(c[c.index(after: c.startIndex)..<inRange.lowerBound]) ?? -1
                let list = c[inRange.upperBound...].dropLast().split(separator: ",").map(String.init)
                typeChoices.append((r, list))
                continue
            }
            guard let eq = c.firstIndex(of: "=") else { continue }
            let key = String(c[..<eq]), value = String(c[c.index(after: eq)...])
            if key.hasPrefix("s["), let close = key.firstIndex(of: "]") {
                let bounds = key.dropFirst(2)[..<close].split(separator: "...").compactMap { Int($0) }
                if bounds.count == 2, bounds[0] <= bounds[1] { stack.append((bounds[0]...bounds[1], String(key[key.index(after: close)...]), value)) }
                continue
            }
            if key.hasPrefix("r"), key.hasSuffix(".type") {
                typeChoices.append((Int(key.dropFirst().prefix { $0.isNumber }) ?? -1, [value]))
                continue
            }
            facts[key] = value
        }
        // Cartesian product of the type choices.
        var combos: [[Int: String]] = [[:]]
        for choice in typeChoices where (0...10).contains(choice.register) {
            combos = combos.flatMap { combo in choice.types.map { t in combo.merging([choice.register: t]) { $1 } } }
        }
        return combos.map { build($0, facts: facts, stack: stack) }
    }

    private static func build(_ types: [Int: String], facts: [String: String], stack: [(range: ClosedRange<Int>, key: String, value: String)]) -> PreState {
        var entry = EntryState()
        var maps: [MapShape] = [testMap, programArray]
        let base = Int(facts["r10.stack_offset"] ?? "512") ?? 512
        func number(_ key: String) -> Int64? { facts[key].flatMap { Int64($0) } ?? facts[key].flatMap { UInt64($0) }.map { Int64(bitPattern: $0) } }
        func interval(_ key: String) -> (Int64, Int64)? {
            guard let v = facts[key] else { return nil }
            if v.hasPrefix("[") {
                let parts = v.dropFirst().dropLast().split(separator: ",").map { String($0) }
                guard parts.count == 2 else { return nil }
                let lo = Int64(parts[0]) ?? UInt64(parts[0]).map { Int64(bitPattern: $0) }
                let hi = Int64(parts[1]) ?? UInt64(parts[1]).map { Int64(bitPattern: $0) }
                guard let lo, let hi else { return nil }
                return (lo, hi)
            }
            return number(key).map { ($0, $0) }
        }
        let packetSize = interval("packet_size")?.0 ?? 0
        for (r, type) in types {
            let p = "r\(r)"
            var reg = Register.uninitialized
            switch type {
            case "number":
                var smin = Int64.min, smax = Int64.max, umin = UInt64.min, umax = UInt64.max
                if let (lo, hi) = interval(p + ".svalue") { (smin, smax) = (lo, hi) }
                if let (lo, hi) = interval(p + ".uvalue") { (umin, umax) = (UInt64(bitPattern: lo), UInt64(bitPattern: hi)) }
                let bounds = ScalarBounds.bounded(smin: smin, smax: smax, umin: umin, umax: umax)
                reg = .scalar(bounds.isEmpty ? .unknown : bounds)
            case "ctx":
                reg = .pointer(.context, offset: number(p + ".ctx_offset") ?? 0)
            case "stack":
                let offset = Int64((Int(number(p + ".stack_offset") ?? Int64(base))) - base)
                reg = .pointer(.stack, offset: offset)
                if let numeric = number(p + ".stack_numeric_size"), numeric > 0 {
                    for b in 0..<Int(numeric) {
                        let index = Int(offset) + b + 512
                        if (0..<512).contains(index), entry.frame.slots[index] == Frame.Slot.invalid { entry.frame.slots[index] = Frame.Slot.misc }
                    }
                }
            case "packet":
                reg = .pointer(.packet, offset: number(p + ".packet_offset") ?? 0)
                reg.range = packetSize
            case "shared":
                let size = Int(number(p + ".shared_region_size") ?? 0)
                maps.append(MapShape(type: .hash, keySize: 4, valueSize: max(size, 0), maxEntries: 1))
                reg = .pointer(.mapValue, offset: number(p + ".shared_offset") ?? 0)
                reg.map = Int32(maps.count - 1)
                if let (low, _) = interval(p + ".svalue"), low <= 0 {  // its address may be 0: NULL
                    reg.maybeNull = true
                    reg.id = 0x8000_0000 | UInt32(r)  // far from the ids the verifier hands out
                }
            case "map_fd":
                reg = .pointer(.mapPointer)
                reg.map = 0
            case "map_fd_programs":
                reg = .pointer(.mapPointer)
                reg.map = 1
            default:
                continue  // a type SwiftBPF does not model: left unreadable
            }
            entry.registers[r] = reg
        }
        for fact in stack where fact.key == ".type" && fact.value == "number" {
            for k in fact.range {
                let index = k - base + 512
                if (0..<512).contains(index) { entry.frame.slots[index] = Frame.Slot.misc }
            }
        }
        return PreState(entry: entry, maps: maps)
    }
}

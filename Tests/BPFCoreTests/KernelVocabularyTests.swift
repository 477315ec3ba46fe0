import BPFPlatform
import BPFCore
import Testing

/// The installed UAPI header, the specification of the kernel's numbers.
private let header = readTextFile("/usr/include/linux/bpf.h")
private let noHeader = "/usr/include/linux/bpf.h is absent (apt-get install linux-libc-dev)"

private func trimmed(_ text: Substring) -> String {
    String(text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
}

/// The enumerators of `enum name` in the header, with their values: aliases (`X = Y`) and
/// `__MAX_` markers left out, a `_DEPRECATED` name replaced by its alias as the generator does.
private func enumerators(_ name: String, prefix: String) -> [(name: String, value: UInt32)] {
    guard let lines = header?.split(separator: "\n", omittingEmptySubsequences: false),
        let start = lines.firstIndex(where: { $0.hasPrefix("enum \(name) {") })
    else { return [] }
    var out: [(String, UInt32)] = [], next: UInt32 = 0
    for line in lines[(start + 1)...] {
        if line.hasPrefix("}") { break }
        var item = trimmed(line.split(separator: "/*", omittingEmptySubsequences: false).first ?? "")
        if item.hasSuffix(",") { item.removeLast() }
        guard item.hasPrefix(prefix) else { continue }
        let parts = item.split(separator: "=").map(trimmed)
        let ident = String(parts[0].dropFirst(prefix.count))
        if parts.count == 2 {
            guard let value = UInt32(parts[1]) else {
                if parts[1].hasSuffix("_DEPRECATED"), let last = out.last, prefix + last.0 == parts[1] { out[out.count - 1].0 = ident }
                continue
            }
            next = value
        }
        out.append((ident, next))
        next += 1
    }
    return out
}

@Suite("Kernel vocabulary against linux/bpf.h", .enabled(if: header != nil, Comment(rawValue: noHeader)))
struct KernelVocabularyTests {
    @Test("every map type of the header has its value and name")
    func mapTypes() {
        let values = enumerators("bpf_map_type", prefix: "BPF_MAP_TYPE_")
        #expect(values.count >= 30)
        for (name, value) in values { #expect(MapType(rawValue: value).description == name.lowercased(), "BPF_MAP_TYPE_\(name)") }
        #expect(MapType.ringbuf.rawValue == 27 && MapType.percpuArray.isPerCPU && !MapType.array.isPerCPU)
    }

    @Test("every program type of the header has its value and name")
    func programTypes() {
        let values = enumerators("bpf_prog_type", prefix: "BPF_PROG_TYPE_")
        #expect(values.count >= 30)
        for (name, value) in values { #expect(ProgramType(rawValue: value)?.description == name.lowercased(), "BPF_PROG_TYPE_\(name)") }
    }

    @Test("every attach type and link type of the header has its value and name")
    func attachAndLinkTypes() {
        let attach = enumerators("bpf_attach_type", prefix: "BPF_"), links = enumerators("bpf_link_type", prefix: "BPF_LINK_TYPE_")
        #expect(attach.count >= 40 && links.count >= 9)
        for (name, value) in attach { #expect(AttachType(rawValue: value).description == name.lowercased(), "BPF_\(name)") }
        for (name, value) in links { #expect(LinkType(rawValue: value).description == name.lowercased(), "BPF_LINK_TYPE_\(name)") }
    }

    @Test("every helper id of the header has its value and name")
    func helpers() throws {
        let header = try #require(header)
        // FN(name, id, ##ctx) since Linux 6.1; before, the position is the id.
        var found = 0
        for line in header.split(separator: "\n") {
            let text = trimmed(line)
            guard text.hasPrefix("FN("), let close = text.firstIndex(of: ")") else { continue }
            let fields = text[text.index(text.startIndex, offsetBy: 3)..<close].split(separator: ",").map(trimmed)
            let id = fields.count >= 2 ? Int32(fields[1]) : nil
            guard let id = id ?? Int32(exactly: found) else { continue }
            #expect(HelperID(rawValue: id).name == fields[0], "FN(\(fields[0]))")
            #expect(HelperID(named: "bpf_" + fields[0]) == HelperID(rawValue: id))
            found += 1
        }
        #expect(found >= 200)
    }

    @Test(
        "map and program flags have the header's values",
        arguments: [
            ("BPF_F_NO_PREALLOC", MapFlags.noPrealloc.rawValue), ("BPF_F_NO_COMMON_LRU", MapFlags.noCommonLRU.rawValue),
            ("BPF_F_RDONLY", MapFlags.readOnly.rawValue), ("BPF_F_WRONLY", MapFlags.writeOnly.rawValue),
            ("BPF_F_RDONLY_PROG", MapFlags.readOnlyToPrograms.rawValue), ("BPF_F_WRONLY_PROG", MapFlags.writeOnlyToPrograms.rawValue),
            ("BPF_F_MMAPABLE", MapFlags.mmapable.rawValue), ("BPF_F_INNER_MAP", MapFlags.innerMap.rawValue),
            ("BPF_F_STRICT_ALIGNMENT", ProgramFlags.strictAlignment.rawValue), ("BPF_F_ANY_ALIGNMENT", ProgramFlags.anyAlignment.rawValue),
            ("BPF_F_SLEEPABLE", ProgramFlags.sleepable.rawValue), ("BPF_F_XDP_HAS_FRAGS", ProgramFlags.xdpHasFrags.rawValue),
        ])
    func flags(name: String, value: UInt32) throws {
        let header = try #require(header)
        // `#define NAME (1U << n)` or `NAME = (1U << n),` in an enum.
        let line = try #require(
            header.split(separator: "\n").first { line in
                let text = trimmed(line)
                return line.contains("<<")
                    && (text.hasPrefix("#define \(name)\t") || text.hasPrefix("#define \(name) ") || text.hasPrefix(name + "\t") || text.hasPrefix(name + " "))
            }, "\(name) in the header")
        let shift = try #require(line.split(separator: "<<").last.flatMap { UInt32($0.filter(\.isNumber)) }, "\(line)")
        #expect(value == 1 << shift, "\(line)")
    }
}

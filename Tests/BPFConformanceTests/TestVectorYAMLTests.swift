import BPFConformance
import BPFTestSupport
import Testing

@Suite("The test vectors' YAML")
struct TestVectorYAMLTests {
    @Test("documents, block and flow sequences, quoted scalars, literal blocks and comments read as YAML defines them")
    func shapes() throws {
        let text = """
            # a comment before the first document
            ---
            test-case: "quoted: [not a flow] # not a comment"
            options: []
            pre: ["r0.type=number", 'it''s',
                  plain, "tab\\there"]  # a comment after the flow

            code:
              <start>: |
                r0 = 1 ; a comment for the assembler
                # kept: inside the block

              <exit>: |-
                  exit
            post:
            - r0.type=number
            - "r0.svalue=1"
            observe:
              - at: exit
                point: post
            expected-exception: plain text # a comment
            ---
            ---
            test-case: second
            """
        let documents = try TestVectorYAML.documents(text)
        #expect(documents.count == 2)
        let first = try #require(documents.first)
        #expect(first["test-case"] == .scalar("quoted: [not a flow] # not a comment"))
        #expect(first["options"] == .sequence([]))
        #expect(first["pre"] == .sequence([.scalar("r0.type=number"), .scalar("it's"), .scalar("plain"), .scalar("tab\there")]))
        #expect(first["code"]?["<start>"] == .scalar("r0 = 1 ; a comment for the assembler\n# kept: inside the block\n"))
        #expect(first["code"]?["<exit>"] == .scalar("exit"))
        #expect(first["code"]?.mapping?.map(\.key) == ["<start>", "<exit>"])
        #expect(first["post"] == .sequence([.scalar("r0.type=number"), .scalar("r0.svalue=1")]))
        #expect(first["observe"] == .sequence([.mapping([.init(key: "at", value: .scalar("exit")), .init(key: "point", value: .scalar("post"))])]))
        #expect(first["expected-exception"] == .scalar("plain text"))
        #expect(documents[1]["test-case"] == .scalar("second"))
    }

    @Test(
        "what the reader does not take is an error naming the line",
        arguments: [
            ("a: [1, 2", 1, "'[' without its ']'"),
            ("a: \"open", 1, "unterminated quoted scalar"),
            ("a: 1\n    b: 2", 2, "unexpected indentation"),
            ("a: [1] 2", 1, "text after ']'"),
            ("a: \"x\" y", 1, "text after a quoted scalar"),
            ("a: \"\\q\"", 1, "unsupported escape '\\q'"),
            ("a:\n\tb: 1", 2, "indented with a tab"),
            ("a: 1\nplain words", 2, "expected 'key: value'"),
        ])
    func refusals(text: String, line: Int, message: String) {
        #expect(throws: YAMLError(line: line, message: message)) { try TestVectorYAML.documents(text) }
    }

    /// Mutated vector files (bytes replaced by YAML's own punctuation, lines cut short or
    /// swapped) either read or give an error: none may crash the reader.
    @Test("mangled vector files give errors, not crashes")
    func mangled() {
        let original = Array(
            """
            ---
            test-case: "a [case]"
            pre: ["r1.type=number", 'x''y']
            code:
              <start>: |
                r0 = 1
              <out>: |-
                exit
            post:
              - r0.type=number
              - at: exit
                point: post
            """.utf8)
        let punctuation = Array("-:[]{}\"'|#, \n\\".utf8)
        var random = SplitMix64(state: 11)
        var read = 0, refused = 0
        for _ in 0..<5_000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let at = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: bytes[at] = punctuation.randomElement(using: &random)!
                case 1: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...8, using: &random)))
                default: bytes.insert(punctuation.randomElement(using: &random)!, at: at)
                }
                if bytes.isEmpty { bytes = original }
            }
            if (try? TestVectorYAML.documents(String(decoding: bytes, as: UTF8.self))) != nil { read += 1 } else { refused += 1 }
        }
        #expect(read > 0 && refused > 0, "\(read) read, \(refused) refused")
    }
}

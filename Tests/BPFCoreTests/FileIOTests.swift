import BPFCore
import Testing
import BPFPlatform

@Suite("File helpers")
struct FileIOTests {
    @Test("makeDirectories makes the missing parents, accepts a directory that exists, refuses a file")
    func directories() {
        let root = temporaryDirectory + "/swiftbpf-dirs-\(getpid())"
        defer { removeTree(root) }
        #expect(makeDirectories(root + "/a/b/c"))
        var info = stat()
        #expect(stat(root + "/a/b/c", &info) == 0 && info.st_mode & S_IFMT == S_IFDIR)
        #expect(makeDirectories(root + "/a/b/c"), "one that exists")
        #expect(makeDirectories(root + "/a/d/"), "a trailing slash")
        #expect(writeFile(root + "/file", [1]))
        #expect(!makeDirectories(root + "/file"), "a file where the directory would be")
        #expect(!makeDirectories(root + "/file/below"), "a file where a parent would be")
    }
}

import BPFPlatform
import BPFCore

/// Function symbols of host ELF64 binaries (executables, shared libraries), for uprobes: a
/// symbol's address turned into the file offset the uprobe PMU takes.
package enum HostSymbols {
    package struct Failure: Error { package var message: String }

    /// The file a uprobe or USDT section's binary names, found as libbpf finds it: a path as
    /// given; a shared library's name (`libc.so.6`) in `LD_LIBRARY_PATH` and the system's
    /// library folders; an executable's name on `PATH`. The name itself when nothing is found,
    /// for the error to name it.
    package static func resolve(_ binary: String) -> String {
        guard !binary.contains("/") else { return binary }
        if binary.contains(".so") {
            let multiarch = "/lib/\(hostMultiarch)", usrMultiarch = "/usr/lib/\(hostMultiarch)"
            let configured = getenv("LD_LIBRARY_PATH").map { String(cString: $0).split(separator: ":").map(String.init) } ?? []
            let folders = configured + [multiarch, usrMultiarch, "/lib64", "/usr/lib64", "/lib", "/usr/lib"]
            return folders.map { $0 + "/" + binary }.first { access($0, R_OK) == 0 } ?? binary
        }
        return executablePath(binary) ?? binary
    }

    /// Debian's multiarch folder name for this machine.
    private static var hostMultiarch: String {
        #if arch(arm64)
        "aarch64-linux-gnu"
        #else
        "x86_64-linux-gnu"
        #endif
    }

    /// The file offset of function `symbol` in the ELF64 little-endian file at `path`.
    package static func fileOffset(of symbol: String, in path: String) throws(Failure) -> UInt64 {
        guard let bytes = readFile(path) else { throw Failure(message: "cannot read the file") }
        return try fileOffset(of: symbol, inELF: bytes)
    }

    /// The file offset of function `symbol` in ELF64 little-endian `bytes`, from `.symtab` or
    /// `.dynsym`: its address less its section's address plus the section's offset. Offsets and
    /// sizes that point outside the file are refused.
    package static func fileOffset(of symbol: String, inELF bytes: [UInt8]) throws(Failure) -> UInt64 {
        func u16(_ at: Int) throws(Failure) -> Int {
            guard at >= 0, at <= bytes.count - 2 else { throw Failure(message: "truncated ELF at 0x\(String(at, radix: 16))") }
            return Int(bytes[at]) | Int(bytes[at + 1]) << 8
        }
        func u32(_ at: Int) throws(Failure) -> Int {
            let low = try u16(at), high = try u16(at + 2)
            return low | high << 16
        }
        func u64(_ at: Int) throws(Failure) -> UInt64 {
            let low = try u32(at), high = try u32(at + 4)
            return UInt64(low) | UInt64(high) << 32
        }
        /// A file offset or size, which must lie inside the file.
        func place(_ at: Int) throws(Failure) -> Int {
            let v = try u64(at)
            guard v <= UInt64(bytes.count) else {
                throw Failure(message: "offset or size 0x\(String(v, radix: 16)) at 0x\(String(at, radix: 16)) is outside the file")
            }
            return Int(v)
        }
        guard bytes.count >= 64, bytes[0..<4].elementsEqual([0x7f, 0x45, 0x4c, 0x46]), bytes[4] == 2, bytes[5] == 1 else {
            throw Failure(message: "not a little-endian ELF64 file")
        }
        let sectionTable = try place(0x28), entrySize = try u16(0x3a), count = try u16(0x3c)
        guard entrySize >= 0x30, count <= (bytes.count - sectionTable) / entrySize else {
            throw Failure(
                message: "the section table (\(count) entries of \(entrySize) bytes at 0x\(String(sectionTable, radix: 16))) does not fit in the file")
        }
        struct Section { var type: Int, address: UInt64, offset: Int, size: UInt64, link: Int }
        var sections: [Section] = []
        for i in 0..<count {
            let at = sectionTable + i * entrySize
            sections.append(
                Section(
                    type: try u32(at + 4), address: try u64(at + 0x10), offset: try place(at + 0x18),
                    size: try u64(at + 0x20), link: try u32(at + 0x28)))
        }
        let wanted = Array(symbol.utf8)
        for table in sections where table.type == 2 || table.type == 11 {  // SHT_SYMTAB, SHT_DYNSYM
            guard table.link < sections.count, table.size <= UInt64(bytes.count - table.offset) else { continue }
            let strings = sections[table.link]
            for at in stride(from: table.offset, to: table.offset + Int(table.size) - 23, by: 24) {
                let info = try u16(at + 4) & 0xff, index = try u16(at + 6)
                guard info & 0xf == 2, index > 0, index < sections.count else { continue }  // STT_FUNC, defined
                let name = try strings.offset + u32(at)  // both inside the file: no overflow
                guard name <= bytes.count - wanted.count - 1, bytes[name..<(name + wanted.count)].elementsEqual(wanted),
                    bytes[name + wanted.count] == 0
                else { continue }
                let value = try u64(at + 8), section = sections[index]
                let (offset, overflow) = (value &- section.address).addingReportingOverflow(UInt64(section.offset))
                guard value >= section.address, !overflow else { throw Failure(message: "symbol \(symbol) lies outside its section") }
                return offset
            }
        }
        throw Failure(message: "no function named \(symbol)")
    }
}

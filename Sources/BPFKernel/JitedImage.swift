import BPFPlatform
import CBPFShims

extension Inventory {
    /// A loaded program's native code as the kernel's JIT made it (`bpftool prog dump jited`).
    public struct JitedImage: Sendable, Equatable {
        /// One function of the program: where it is in the kernel and its code's place in ``code``.
        public struct Function: Sendable, Equatable {
            /// Its kernel address (`jited_ksyms`).
            public var address: UInt64
            /// Its first byte in ``JitedImage/code``.
            public var start: Int
            /// Its length in bytes (`jited_func_lens`).
            public var length: Int
        }

        /// The whole image, every function in order.
        public var code: [UInt8]
        public var functions: [Function]
        /// The C source line (from the program's BTF line info) that starts at each kernel address.
        public var sourceLines: [UInt64: String]
    }

    /// The JIT image of the program behind `fd`.
    /// - Throws: ``KernelError`` when the kernel will not give it (not JIT-compiled, or the
    ///   caller may not read kernel addresses).
    public static func jitedImage(fd: Int32) throws(KernelError) -> JitedImage {
        let s = try summary(fd: fd)
        guard s.jited_len > 0 else { throw .noSuchObject("the program has no JIT image (the kernel interprets it, or hides it from this user)") }
        var code = [UInt8](repeating: 0, count: Int(s.jited_len))
        let count = max(s.nr_jited_ksyms, s.nr_jited_func_lens)
        var addresses = [UInt64](repeating: 0, count: Int(count)), lengths = [UInt32](repeating: 0, count: Int(count))
        var lineAddresses = [UInt64](repeating: 0, count: Int(s.nr_jited_line_info))
        let r = code.withUnsafeMutableBufferPointer { code in
            addresses.withUnsafeMutableBufferPointer { addresses in
                lengths.withUnsafeMutableBufferPointer { lengths in
                    lineAddresses.withUnsafeMutableBufferPointer { lines in
                        cbpf_prog_jited(
                            fd, code.baseAddress, UInt32(code.count), addresses.baseAddress, lengths.baseAddress, count, lines.baseAddress,
                            UInt32(lines.count))
                    }
                }
            }
        }
        guard r == 0 else { throw KernelError(command: "BPF_OBJ_GET_INFO_BY_FD", errno: -r) }
        var functions: [JitedImage.Function] = []
        var start = 0
        for (address, length) in zip(addresses, lengths) {
            functions.append(.init(address: address, start: start, length: Int(length)))
            start += Int(length)
        }
        if functions.isEmpty { functions = [.init(address: 0, start: 0, length: code.count)] }
        var sourceLines: [UInt64: String] = [:]
        if s.nr_jited_line_info == s.nr_line_info, let (records, btf) = btfRecords(fd: fd, btfID: s.btf_id, lines: true, count: s.nr_line_info) {
            for (i, address) in lineAddresses.enumerated() where sourceLines[address] == nil {
                let text = btf.name(records[i * 4 + 2])
                if !text.isEmpty { sourceLines[address] = text }
            }
        }
        return JitedImage(code: code, functions: functions, sourceLines: sourceLines)
    }

    /// The kernel's symbols by address (`/proc/kallsyms`, which shows addresses to root only):
    /// helpers' functions and programs' (`bpf_prog_TAG_NAME`), as bpftool names calls and code
    /// with them. Empty where the addresses cannot be read.
    public static func kernelSymbols() -> [UInt64: String] {
        guard let bytes = readFile("/proc/kallsyms") else { return [:] }
        var symbols: [UInt64: String] = [:]
        symbols.reserveCapacity(bytes.count / 40)
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            // ADDRESS TYPE NAME[\tMODULE]
            let words = line.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
            guard words.count >= 3, let address = UInt64(String(decoding: words[0], as: UTF8.self), radix: 16), address != 0 else { continue }
            if symbols[address] == nil { symbols[address] = String(decoding: words[2], as: UTF8.self) }
        }
        return symbols
    }
}

import BPFPlatform

/// Filter expressions (`tcp port 80`) compiled to classic BPF by libpcap, the library made for
/// it, loaded when first needed (Debian's `libpcap0.8`; `libpcap-dev` for the tests' tcpdump).
public enum FilterCompiler {
    private typealias OpenDead = @convention(c) (Int32, Int32) -> OpaquePointer?
    private typealias Compile = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer, UnsafePointer<CChar>, Int32, UInt32) -> Int32
    private typealias GetError = @convention(c) (OpaquePointer?) -> UnsafePointer<CChar>?
    private typealias FreeCode = @convention(c) (UnsafeMutableRawPointer) -> Void
    private typealias Close = @convention(c) (OpaquePointer?) -> Void

    private typealias ClassicFilter = @convention(c) (UnsafeRawPointer, UnsafePointer<UInt8>, UInt32, UInt32) -> UInt32

    private struct Library: @unchecked Sendable {
        let openDead: OpenDead, compile: Compile, error: GetError, free: FreeCode, close: Close
        let filter: ClassicFilter?
    }

    /// libpcap, or why it cannot be used.
    private static let library: Result<Library, PacketCaptureError> = {
        for name in ["libpcap.so.0.8", "libpcap.so.1", "libpcap.so", "libpcap.A.dylib", "libpcap.dylib"] {
            guard let handle = dlopen(name, RTLD_NOW) else { continue }
            func symbol<T>(_ name: String, _: T.Type) -> T? { dlsym(handle, name).map { unsafeBitCast($0, to: T.self) } }
            guard let openDead = symbol("pcap_open_dead", OpenDead.self), let compile = symbol("pcap_compile", Compile.self),
                let error = symbol("pcap_geterr", GetError.self), let free = symbol("pcap_freecode", FreeCode.self),
                let close = symbol("pcap_close", Close.self)
            else { continue }
            return .success(
                Library(openDead: openDead, compile: compile, error: error, free: free, close: close, filter: symbol("bpf_filter", ClassicFilter.self)))
        }
        return .failure(PacketCaptureError(.filterExpression, "libpcap is not installed (Debian: apt-get install libpcap0.8)"))
    }()

    /// Why expressions cannot be compiled here, or nil when they can.
    public static var unavailableReason: String? {
        if case let .failure(error) = library { return error.description }
        return nil
    }

    /// libpcap's own classic interpreter (`bpf_filter`), for comparison: the program's result on
    /// a packet. Nil without libpcap.
    public static var classicInterpreter: (@Sendable (ClassicProgram, [UInt8]) -> UInt32)? {
        guard case let .success(pcap) = library, let filter = pcap.filter else { return nil }
        return { program, packet in
            // struct bpf_insn, 8 bytes each, as libpcap reads them.
            program.instructions.withUnsafeBufferPointer { instructions in
                packet.withUnsafeBufferPointer { bytes in
                    filter(UnsafeRawPointer(instructions.baseAddress!), bytes.baseAddress!, UInt32(bytes.count), UInt32(bytes.count))
                }
            }
        }
    }

    /// `expression` compiled for packets of `linkType` (Ethernet by default), optimized, as
    /// `tcpdump -ddd` would print it.
    /// - Throws: ``PacketCaptureError`` with libpcap's words when it refuses the expression.
    public static func compile(_ expression: String, linkType: UInt32 = PacketCapture.ethernet, snapLength: Int32 = 262_144)
        throws(PacketCaptureError) -> ClassicProgram
    {
        let pcap: Library
        switch library {
        case .success(let l): pcap = l
        case .failure(let error): throw error
        }
        guard let handle = pcap.openDead(Int32(bitPattern: linkType), snapLength) else {
            throw PacketCaptureError(.filterExpression, "libpcap cannot handle link type \(linkType)")
        }
        defer { pcap.close(handle) }
        // struct bpf_program { u_int bf_len; struct bpf_insn *bf_insns; }
        return try withUnsafeTemporaryAllocation(byteCount: 16, alignment: 8) { (program) throws(PacketCaptureError) -> ClassicProgram in
            program.initializeMemory(as: UInt8.self, repeating: 0)
            let base = program.baseAddress!
            let status = expression.withCString { pcap.compile(handle, base, $0, 1, 0xffff_ffff) }
            guard status == 0 else {
                throw PacketCaptureError(.filterExpression, "'\(expression)': " + (pcap.error(handle).map { String(cString: $0) } ?? "refused"))
            }
            defer { pcap.free(base) }
            let count = Int(base.load(as: UInt32.self))
            guard let instructions = base.load(fromByteOffset: 8, as: UnsafeRawPointer?.self) else {
                throw PacketCaptureError(.filterExpression, "'\(expression)': libpcap returned no program")
            }
            // struct bpf_insn { u_short code; u_char jt; u_char jf; bpf_u_int32 k; }
            let decoded = (0..<count).map { i in
                ClassicProgram.Instruction(
                    code: instructions.load(fromByteOffset: i * 8, as: UInt16.self), jt: instructions.load(fromByteOffset: i * 8 + 2, as: UInt8.self),
                    jf: instructions.load(fromByteOffset: i * 8 + 3, as: UInt8.self), k: instructions.load(fromByteOffset: i * 8 + 4, as: UInt32.self))
            }
            return try ClassicProgram(decoded)
        }
    }
}

/// Native code decoded by LLVM's disassembler, the library made for it (as bpftool decodes a
/// program's JIT image), loaded when first needed from the LLVM shared library (Debian's
/// `llvm` package installs it). Intel syntax on x86-64, the spelling of our JIT's listing.
public final class MachineCodeDisassembler {
    /// The architectures it decodes.
    public enum Architecture: String, Sendable, CaseIterable {
        case x86_64, arm64

        var triple: String { self == .x86_64 ? "x86_64-unknown-linux-gnu" : "aarch64-unknown-linux-gnu" }
        var llvmName: String { self == .x86_64 ? "X86" : "AArch64" }
    }

    /// One decoded instruction: where it starts, its bytes and its text (`mov rax, rdi`), or
    /// `.byte 0x..` for a byte LLVM cannot decode.
    public struct Line: Sendable, Equatable {
        public var offset: Int
        public var bytes: [UInt8]
        public var text: String
    }

    /// Why code cannot be decoded on this machine.
    public struct Unavailable: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    private typealias Create =
        @convention(c) (
            UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int32, OpaquePointer?, OpaquePointer?
        ) -> OpaquePointer?
    private typealias SetOptions = @convention(c) (OpaquePointer?, UInt64) -> Int32
    private typealias Dispose = @convention(c) (OpaquePointer?) -> Void
    private typealias Decode = @convention(c) (OpaquePointer?, UnsafeMutablePointer<UInt8>?, UInt64, UInt64, UnsafeMutablePointer<CChar>?, Int) -> Int
    private typealias Initialize = @convention(c) () -> Void

    private struct Library: @unchecked Sendable {
        let handle: UnsafeMutableRawPointer
        let create: Create, setOptions: SetOptions, dispose: Dispose, decode: Decode
    }

    /// `LLVMDisassembler_Option_AsmPrinterVariant`: Intel syntax on x86.
    private static let intelSyntax: UInt64 = 4

    private static let library: Result<Library, Unavailable> = {
        let versions = (14...22).reversed().map { "libLLVM-\($0).so.1" } + (14...22).reversed().map { "libLLVM-\($0).so" }
        for name in ["libLLVM.so"] + versions + ["libLLVM.dylib"] {
            guard let handle = dlopen(name, RTLD_NOW) else { continue }
            func symbol<T>(_ name: String, _: T.Type) -> T? { dlsym(handle, name).map { unsafeBitCast($0, to: T.self) } }
            guard let create = symbol("LLVMCreateDisasmCPUFeatures", Create.self), let setOptions = symbol("LLVMSetDisasmOptions", SetOptions.self),
                let dispose = symbol("LLVMDisasmDispose", Dispose.self), let decode = symbol("LLVMDisasmInstruction", Decode.self)
            else { continue }
            for architecture in Architecture.allCases {
                for part in ["TargetInfo", "TargetMC", "Disassembler"] {
                    symbol("LLVMInitialize\(architecture.llvmName)\(part)", Initialize.self)?()
                }
            }
            return .success(Library(handle: handle, create: create, setOptions: setOptions, dispose: dispose, decode: decode))
        }
        return .failure(Unavailable(description: "LLVM's shared library is not installed (Debian: apt-get install llvm)"))
    }()

    private let library: Library
    private let context: OpaquePointer

    /// A disassembler for `architecture`.
    /// - Throws: ``Unavailable`` when LLVM is not installed or was built without the target.
    public init(_ architecture: Architecture) throws(Unavailable) {
        library = try Self.library.get()
        // arm64 with the atomics of ARMv8.1 (LSE), which the JIT emits where the CPU has them.
        guard let context = library.create(architecture.triple, "", architecture == .arm64 ? "+lse" : "", nil, 0, nil, nil) else {
            throw Unavailable(description: "LLVM here has no \(architecture.rawValue) disassembler")
        }
        if architecture == .x86_64 { _ = library.setOptions(context, Self.intelSyntax) }
        self.context = context
    }

    deinit { library.dispose(context) }

    /// `code` decoded from its start; `address` is where it runs (for branch targets).
    public func decode(_ code: [UInt8], address: UInt64 = 0) -> [Line] {
        var lines: [Line] = []
        var bytes = code
        var text = [CChar](repeating: 0, count: 256)
        var offset = 0
        while offset < bytes.count {
            let length = bytes.withUnsafeMutableBufferPointer { b in
                library.decode(context, b.baseAddress! + offset, UInt64(b.count - offset), address + UInt64(offset), &text, text.count)
            }
            if length == 0 {
                lines.append(Line(offset: offset, bytes: [bytes[offset]], text: ".byte 0x" + String(bytes[offset], radix: 16)))
                offset += 1
                continue
            }
            let spelled = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            lines.append(Line(offset: offset, bytes: Array(bytes[offset..<offset + length]), text: Self.normalized(spelled)))
            offset += length
        }
        return lines
    }

    /// LLVM's text with its tabs and leading blanks gone: `mov\trax, rdi` as `mov rax, rdi`.
    private static func normalized(_ text: String) -> String {
        text.split(whereSeparator: { $0 == "\t" || $0 == " " || $0 == "\n" }).joined(separator: " ")
    }
}

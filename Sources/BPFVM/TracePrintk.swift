import BPFCore
/// `bpf_trace_printk(fmt, fmt_size, arg1, arg2, arg3)` (helper 6) and
/// `bpf_trace_vprintk(fmt, fmt_size, args, args_size)` (177, up to 12 arguments): what
/// `bpf_printk` calls. Formats like the kernel's and hands each line to the host's sink
/// (``HelperContext/trace``) instead of the kernel's trace pipe. Conversions: `%d %i %u %x %X
/// %c %p %%` with `l`/`ll`/`h` lengths, `-`/`0` flags and a width; `%s` reads a string only
/// from memory the host registered as readable (``HelperContext/readable``), else prints
/// `(efault)`. Returns the bytes written, or `-EINVAL` for a format the kernel refuses (not
/// NUL-terminated, more conversions than arguments, an unknown one).
enum TracePrintk {
    static let helper: HelperFunction = { fmt, size, a1, a2, a3, raw in
        print(fmt, size, [a1, a2, a3], HelperContext.at(raw))
    }

    static let vprintk: HelperFunction = { fmt, size, data, dataSize, _, raw in
        guard dataSize % 8 == 0, dataSize <= 96 else { return HelperResult.einval }
        var arguments: [UInt64] = []
        if dataSize > 0, let words = UnsafeRawPointer(bitPattern: UInt(data)) {
            arguments = (0..<Int(dataSize / 8)).map { words.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self) }
        }
        return print(fmt, size, arguments, HelperContext.at(raw))
    }

    private static func print(_ fmt: UInt64, _ size: UInt64, _ arguments: [UInt64], _ context: UnsafeMutablePointer<HelperContext>) -> UInt64 {
        guard size > 0, size <= 1024, let start = UnsafeRawPointer(bitPattern: UInt(fmt)) else { return HelperResult.einval }
        let format = UnsafeRawBufferPointer(start: start, count: Int(size))
        guard format[format.count - 1] == 0 else { return HelperResult.einval }
        guard let text = render(format.prefix { $0 != 0 }, arguments, context.pointee.readable) else { return HelperResult.einval }
        context.pointee.trace?(text)
        return UInt64(text.utf8.count)
    }

    /// The formatted line, or nil for a format the kernel refuses.
    static func render(_ format: UnsafeRawBufferPointer.SubSequence, _ arguments: [UInt64], _ readable: UnsafeBufferPointer<MemoryRegion>) -> String? {
        var out = "", next = 0
        var i = format.startIndex
        while i < format.endIndex {
            let c = format[i]
            i += 1
            guard c == UInt8(ascii: "%") else { out.unicodeScalars.append(Unicode.Scalar(c)); continue }
            guard i < format.endIndex else { return nil }
            if format[i] == UInt8(ascii: "%") { out += "%"; i += 1; continue }
            var leftAlign = false, zeroPad = false, width = 0, longs = 0
            while i < format.endIndex, format[i] == UInt8(ascii: "-") || format[i] == UInt8(ascii: "0") {
                if format[i] == UInt8(ascii: "-") { leftAlign = true } else { zeroPad = true }
                i += 1
            }
            while i < format.endIndex, format[i] >= UInt8(ascii: "0"), format[i] <= UInt8(ascii: "9") {
                width = min(width * 10 + Int(format[i] - UInt8(ascii: "0")), 64)
                i += 1
            }
            var short = false
            while i < format.endIndex, format[i] == UInt8(ascii: "l") || format[i] == UInt8(ascii: "h") {
                if format[i] == UInt8(ascii: "l") { longs += 1 } else { short = true }
                i += 1
            }
            guard i < format.endIndex, next < arguments.count, longs <= 2 else { return nil }
            let conversion = format[i]
            i += 1
            let raw = arguments[next]
            next += 1
            // Without `l`, the value is an int, as the kernel reads it.
            let value = longs == 0 ? (short ? raw & 0xffff : raw & 0xffff_ffff) : raw
            var field: String
            switch conversion {
            case UInt8(ascii: "d"), UInt8(ascii: "i"):
                let signed = longs == 0 ? Int64(short ? Int64(Int16(truncatingIfNeeded: raw)) : Int64(Int32(truncatingIfNeeded: raw))) : Int64(bitPattern: raw)
                field = String(signed)
            case UInt8(ascii: "u"): field = String(value)
            case UInt8(ascii: "x"): field = String(value, radix: 16)
            case UInt8(ascii: "X"): field = String(value, radix: 16, uppercase: true)
            case UInt8(ascii: "c"): field = String(Unicode.Scalar(UInt8(truncatingIfNeeded: raw)))
            case UInt8(ascii: "p"): field = "0x" + String(raw, radix: 16)
            case UInt8(ascii: "s"): field = string(at: raw, readable) ?? "(efault)"
            default: return nil
            }
            if field.count < width {
                let pad = String(repeating: zeroPad && !leftAlign && conversion != UInt8(ascii: "s") ? "0" : " ", count: width - field.count)
                if leftAlign { field += pad } else if zeroPad, field.hasPrefix("-") { field = "-" + pad + field.dropFirst() } else { field = pad + field }
            }
            out += field
        }
        return out
    }

    /// The NUL-terminated string at `address` (at most 256 bytes), when it lies in `readable`.
    private static func string(at address: UInt64, _ readable: UnsafeBufferPointer<MemoryRegion>) -> String? {
        guard let region = readable.first(where: { $0.contains(address, 1) }),
            let start = UnsafeRawPointer(bitPattern: UInt(address))
        else { return nil }
        let limit = Int(min(region.start + region.length - address, 256))
        let bytes = UnsafeRawBufferPointer(start: start, count: limit)
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
}

extension HelperTable {
    /// Adds `bpf_trace_printk` (6) and `bpf_trace_vprintk` (177), writing to
    /// ``HelperContext/trace``.
    public mutating func registerTracePrintk() {
        register(.tracePrintk, TracePrintk.helper)
        register(.traceVprintk, TracePrintk.vprintk)
    }
}

/// The programs and packets every performance figure is quoted on, shared by `swiftbpf bench`
/// and the tests that check them against the kernel.
package enum BenchmarkPrograms {
    /// The work of `shared/bench/alu.bpf.c`, instruction for instruction as
    /// `clang -O2 -target bpf` compiles it: 4096 rounds of a xorshift-multiply mix seeded from
    /// the packet length, returning XDP_PASS (2) or XDP_DROP (1). r1 is an `xdp_md` context.
    package static let alu = """
        ldxw %r2, [%r1+0]
        ldxw %r3, [%r1+4]
        sub32 %r3, %r2
        mov %r1, 0
        or32 %r3, 1
        lddw %r4, 0x9E3779B97F4A7C15
        mov %r2, 0
        loop:
        mov %r5, %r3
        lsh %r5, 13
        xor %r5, %r3
        mov %r0, %r5
        rsh %r0, 7
        xor %r0, %r5
        mov %r3, %r0
        lsh %r3, 17
        xor %r3, %r0
        mov %r5, %r3
        mul %r5, %r4
        mov %r0, %r1
        and %r0, 31
        rsh %r5, %r0
        add %r5, %r2
        mov %r2, %r5
        and %r2, 1
        neg %r2
        and %r2, %r1
        xor %r2, %r5
        add %r1, 1
        jeq %r1, 4096, done
        ja loop
        done:
        and %r2, 1
        mov32 %r0, 1
        jeq %r2, 0, out
        mov32 %r0, 2
        out:
        exit
        """

    /// The Ethernet/IPv4/TCP SYN every benchmark figure is quoted on: 54 bytes of headers and 6
    /// of payload.
    package static let packet: [UInt8] = {
        let hex =
            "ffffffffffff0000000000010800" + "4500002e00004000400600007f0000017f000002"
            + "04d2005000000000000000005002200000000000" + "787878787878"
        var out: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            out.append(UInt8(hex[i..<j], radix: 16)!)
            i = j
        }
        return out
    }()
}

/// `prog_flags` of `BPF_PROG_LOAD`.
public struct ProgramFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `BPF_F_STRICT_ALIGNMENT`.
    public static let strictAlignment = ProgramFlags(rawValue: 1 << 0)
    /// `BPF_F_ANY_ALIGNMENT`.
    public static let anyAlignment = ProgramFlags(rawValue: 1 << 1)
    /// `BPF_F_TEST_RND_HI32`.
    public static let testRandomHigh32 = ProgramFlags(rawValue: 1 << 2)
    /// `BPF_F_TEST_STATE_FREQ`.
    public static let testStateFrequency = ProgramFlags(rawValue: 1 << 3)
    /// `BPF_F_SLEEPABLE`: the program may sleep (`.s` sections).
    public static let sleepable = ProgramFlags(rawValue: 1 << 4)
    /// `BPF_F_XDP_HAS_FRAGS`: an XDP program that handles multi-buffer packets (`xdp.frags`).
    public static let xdpHasFrags = ProgramFlags(rawValue: 1 << 5)
}

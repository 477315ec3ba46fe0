import BPFCore
import BPFVerifier
import Testing

/// A hash map (4-byte keys, 8-byte values), an array of maps, a device map, cgroup storage.
private let maps = [
    MapShape(type: .hash, keySize: 4, valueSize: 8, maxEntries: 16),
    MapShape(type: .arrayOfMaps, keySize: 4, valueSize: 4, maxEntries: 4),
    MapShape(type: .devmap, keySize: 4, valueSize: 4, maxEntries: 4),
    MapShape(type: .cgroupStorage, keySize: 16, valueSize: 8, maxEntries: 0),
]

private func verify(_ text: String, _ type: ProgramType, configure: (inout Verifier.Configuration) -> Void = { _ in }) throws(VerificationError) {
    var configuration = Verifier.Configuration(programType: type, maps: maps)
    configure(&configuration)
    let code: [Instruction]
    do { code = try PseudoCAssembler.assemble(text) } catch { fatalError("\(error)") }
    _ = try Verifier.verify(code, configuration)
}

/// A refusal's message, or "accepted".
private func verdict(_ text: String, _ type: ProgramType, configure: (inout Verifier.Configuration) -> Void = { _ in }) -> String {
    do throws(VerificationError) {
        try verify(text, type, configure: configure)
        return "accepted"
    } catch { return error.message }
}

@Suite("Helpers: the kernel's signatures and availability")
struct HelperSignatureTests {
    @Test("every helper id up to the table's limit has the kernel's signature")
    func everyHelper() {
        #expect(HelperSignature.helperIDLimit >= 212)
        let missing = (1..<Int32(HelperSignature.helperIDLimit)).filter { HelperSignature.signature(of: HelperID(rawValue: $0)) == nil }
        #expect(missing.isEmpty)
        // bpf_probe_read_kernel(void *dst, u32 size, const void *unsafe_ptr): gpl_only, dst uninit.
        let read = HelperSignature.signature(of: .probeReadKernel)!
        #expect(read.gplOnly && read.arguments.map(\.base) == [.pointerToMem, .constantSizeOrZero, .anything])
        #expect(read.arguments[0].flags.contains(.uninitialized))
        #expect(HelperPrototypes.arguments(of: HelperID.probeReadKernel.rawValue) == [.writable(size: 2), .size(zeroAllowed: true), .anything])
        // bpf_strtol's result pointer: 8 bytes, aligned, written.
        #expect(HelperPrototypes.arguments(of: HelperID.strtol.rawValue)?.last == .fixed(bytes: 8, write: true, aligned: true))
        #expect(HelperPrototypes.unsupportedArgument(of: HelperID.skRelease.rawValue)?.type == "ARG_PTR_TO_BTF_ID_SOCK_COMMON")
    }

    @Test("availability follows get_func_proto: xdp may redirect through maps, socket filters may not")
    func availability() {
        #expect(HelperSignature.isAvailable(.redirectMap, to: .xdp) == true)
        #expect(HelperSignature.isAvailable(.redirectMap, to: .socketFilter) == false)
        #expect(HelperSignature.isAvailable(.getCurrentPidTgid, to: .kprobe) == true)
        #expect(HelperSignature.isAvailable(.ktimeGetNs, to: .structOps) == nil)
        #expect(verdict("call bpf_get_numa_node_id#42\nexit", .kprobe) == "accepted")
        #expect(verdict("r1 = 1\nr2 = 0\ncall bpf_redirect#23\nexit", .socketFilter).contains("cannot use helper bpf_redirect#23"))
        #expect(verdict("r0 = 0\ncall bpf_ktime_get_ns#5\nexit", .structOps).contains("not known to SwiftBPF"))
    }

    @Test("GPL-only helpers need a GPL-compatible license")
    func gpl() {
        let text = "r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall bpf_probe_read_kernel#113\nr0 = 0\nexit"
        #expect(verdict(text, .kprobe) == "accepted")
        #expect(verdict(text, .kprobe) { $0.gplCompatible = false } == "cannot call GPL-restricted function from non-GPL compatible program")
    }

    @Test("check_map_func_compatibility, both ways")
    func mapCompatibility() {
        func redirect(map: Int) -> String { "r1 = map[idx:\(map)]\nr2 = 0\nr3 = 0\ncall bpf_redirect_map#51\nexit" }
        #expect(verdict(redirect(map: 0), .xdp).contains("cannot pass map_type 1 into func bpf_redirect_map#51"))
        #expect(verdict(redirect(map: 2), .xdp) == "accepted")
        // A device map's values are read-only to programs.
        let devmapWrite =
            "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:2]\ncall bpf_map_lookup_elem#1\nif r0 == 0 goto pc+1\n*(u32 *)(r0 +0) = 1\nr0 = 0\nexit"
        #expect(verdict(devmapWrite, .xdp).contains("write into map"))
        let inner = "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:1]\ncall bpf_map_lookup_elem#1\nr0 = 0\nexit"
        #expect(verdict(inner, .xdp).contains("the maps this map holds have no known shape"))
    }

    @Test("get_local_storage: flags must be zero; its value is never NULL")
    func localStorage() {
        func program(flags: Int) -> String { "r1 = map[idx:3]\nr2 = \(flags)\ncall bpf_get_local_storage#81\n*(u64 *)(r0 +0) = 1\nr0 = 1\nexit" }
        #expect(verdict(program(flags: 0), .cgroupSKB) == "accepted")
        #expect(verdict(program(flags: 1), .cgroupSKB) == "get_local_storage() doesn't support non-zero flags")
    }

    @Test("a helper taking an argument the verifier does not model is refused naming it")
    func unsupported() {
        #expect(verdict("r1 = 0\ncall bpf_sk_release#86\nr0 = 0\nexit", .schedCLS).contains("argument R1 of type ARG_PTR_TO_BTF_ID_SOCK_COMMON"))
    }
}

import BPFBenchmarks
import BPFTestSupport
import SwiftBPF
import Testing

private let flowSource = SharedFixtures.path("bench").map { $0 + "/flow.bpf.c" }
private let compilerReason = BPFCompiler.unavailableReason
private let kernelReason = KernelSupport.unavailableReason

/// The front: one object, the same calls, either backend.
@Suite(
    "Front over both backends", .enabled(if: compilerReason == nil, Comment(rawValue: compilerReason ?? "")),
    .enabled(if: flowSource != nil, "../shared/bench is absent"))
struct FrontTests {
    private func object() throws -> OpenedObject { try OpenedObject(bytes: try BPFCompiler.compile(flowSource!)) }

    @Test(
        "the same program gives the same verdict and leaves the same map on both backends",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")))
    func symmetric() throws {
        let object = try object()
        var outcomes: [Backend: (UInt32, [[UInt8]])] = [:]
        for backend in Backend.allCases {
            let loaded = try object.load(on: backend)
            #expect(loaded.backend == backend && loaded.programNames == ["bench_flow"])
            let program = try loaded.program()
            #expect(program.name == "bench_flow" && program.section == "xdp" && program.type == .xdp)
            let run = try program.testRun(data: BenchmarkPrograms.packet, repeat: 3)
            let flows = try loaded.map(named: "flows")
            #expect(flows.shape.type == .hash && flows.shape.keySize == 16)
            outcomes[backend] = (run.returnValue, try flows.keys())
            // Map writes from the host go through the same call on both.
            try flows.update([UInt8](repeating: 7, count: 16), [UInt8](repeating: 1, count: 16))
            #expect(try flows.lookup([UInt8](repeating: 7, count: 16)) == [UInt8](repeating: 1, count: 16))
            try flows.delete([UInt8](repeating: 7, count: 16))
            #expect(try flows.lookup([UInt8](repeating: 7, count: 16)) == nil)
        }
        #expect(outcomes[.userspace]?.0 == outcomes[.kernel]?.0)
        #expect(outcomes[.userspace]?.1 == outcomes[.kernel]?.1)
        #expect(try object.load(on: .kernel).program().kernelProgram != nil)
        #expect(try object.load(on: .userspace).program().userspaceProgram != nil)
    }

    @Test("errors name the stage and the case, on either backend")
    func errors() throws {
        let object = try object()
        let userspace = try object.load(on: .userspace)
        #expect { _ = try userspace.program(named: "no_such_program") } throws: { error in
            guard case let BPFError.runtime(.preparing(program, problem)) = error else { return false }
            return program == "no_such_program" && problem.message.contains("bench_flow")
        }
        #expect { _ = try userspace.map(named: "nope") } throws: { error in
            guard case let BPFError.notFound(name, available) = error else { return false }
            return name == "nope" && available == ["flows"]
        }
        // An XDP program has no hook in user space: attaching says so instead of pretending.
        #expect { _ = try userspace.program().attach() } throws: { error in
            guard case let BPFError.runtime(.cannotAttach(program, reason)) = error else { return false }
            return program == "bench_flow" && reason.contains("names no hook")
        }
        #expect { _ = try object.load(on: .kernel, options: LoadOptions(verify: false)) } throws: { error in
            guard case let BPFError.unsupported(backend, reason) = error else { return false }
            return backend == .kernel && reason.contains("verify: false")
        }
        #expect { _ = try OpenedObject(bytes: []) } throws: { error in
            guard case BPFError.object = error else { return false }
            return true
        }
        #expect { _ = try OpenedObject(path: "/nonexistent/x.bpf.o") } throws: { error in
            guard case let BPFError.unreadable(path) = error else { return false }
            return path == "/nonexistent/x.bpf.o"
        }
    }

    @Test(
        "the kernel's refusal arrives with its errno and log; attaching needs what the section lacks",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")))
    func kernelErrors() throws {
        let loaded = try object().load(on: .kernel)
        #expect { _ = try loaded.program().attach() } throws: { error in
            guard case let BPFError.kernel(.cannotAttach(program, reason)) = error else { return false }
            return program == "bench_flow" && reason.contains("interface")
        }
        let refused = try OpenedObject(
            bytes: try BPFCompiler.compile(
                text: """
                    #include <linux/bpf.h>
                    #include <bpf/bpf_helpers.h>
                    SEC("xdp") int reads_past(struct xdp_md *ctx) {
                        unsigned char *data = (unsigned char *)(long)ctx->data;
                        return data[0];  /* no data_end check */
                    }
                    char LICENSE[] SEC("license") = "GPL";
                    """, name: "refused.bpf.c"))
        #expect { _ = try refused.load(on: .kernel).program() } throws: { error in
            guard case let BPFError.kernel(.refused(operation, errno, log)) = error else { return false }
            return operation == "BPF_PROG_LOAD" && errno == .EACCES && log?.contains("invalid access to packet") == true
        }
        #expect { _ = try refused.load(on: .userspace).program() } throws: { error in
            guard case let BPFError.runtime(.refused(program, verification)) = error else { return false }
            return program == "reads_past" && verification.message.contains("invalid access to packet")
        }
    }

    @Test(
        "verify --kernel-compare classes each program: both accept, both refuse, only we refuse, not judged",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")))
    func comparison() throws {
        let file = try ObjectFile(
            bytes: try BPFCompiler.compile(
                text: """
                    #include <linux/bpf.h>
                    #include <bpf/bpf_helpers.h>
                    struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, 4); __uint(value_size, 4); } events SEC(".maps");
                    SEC("xdp") int accepted(struct xdp_md *ctx) { return XDP_PASS; }
                    SEC("xdp") int reads_past(struct xdp_md *ctx) { return *(unsigned char *)(long)ctx->data; }
                    SEC("tc") int lookup(struct __sk_buff *skb) {
                        struct bpf_sock_tuple t = {};
                        struct bpf_sock *sk = bpf_sk_lookup_tcp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
                        if (sk) bpf_sk_release(sk);
                        return 0;
                    }
                    SEC("tp_btf/no_such_tracepoint_anywhere") int nowhere(void *ctx) { return 0; }
                    char LICENSE[] SEC("license") = "GPL";
                    """, name: "compare.bpf.c"))
        // Verifying needs no map created: the perf event array the runtime cannot run does not stop it.
        #expect(try file.verify(program: "accepted").processedInstructions > 0)
        let results = VerdictComparison.compare(file, target: BTF.vmlinux)
        let classes = results.categories
        #expect(classes == ["accepted": "A", "reads_past": "B", "lookup": "D", "nowhere": "E"], "\(results)")
        // A helper whose result (a socket reference) SwiftBPF's verifier does not model.
        let lookup = try #require(results.first { $0.program == "lookup" })
        #expect(lookup.ours?.contains("bpf_sk_lookup_tcp#84: its return type is not supported") == true && lookup.kernel == .accepted)
    }

    @Test(
        "read-only data is frozen once written: its values decide branches in both verifiers, and the host cannot change them",
        .enabled(if: kernelReason == nil, Comment(rawValue: kernelReason ?? "")))
    func frozenReadOnlyData() throws {
        let object = try OpenedObject(
            bytes: try BPFCompiler.compile(
                text: """
                    #include <linux/bpf.h>
                    #include <bpf/bpf_helpers.h>
                    const volatile int unsafe_mode = 0;
                    SEC("xdp") int guarded(struct xdp_md *ctx) {
                        /* Unsafe, and never reached: the verifiers know unsafe_mode is 0. */
                        if (unsafe_mode) return *(unsigned char *)(long)ctx->data;
                        return XDP_PASS;
                    }
                    char LICENSE[] SEC("license") = "GPL";
                    """, name: "frozen.bpf.c"))
        for backend in Backend.allCases {
            let loaded = try object.load(on: backend)
            #expect(try loaded.program().testRun(data: [UInt8](repeating: 0, count: 64)).returnValue == 2)
            let rodata = try loaded.map(named: ".rodata")
            #expect(try rodata.lookup([0, 0, 0, 0]) == [0, 0, 0, 0])
            #expect("\(backend)") {
                try rodata.update([0, 0, 0, 0], [1, 0, 0, 0])
            } throws: { error in
                switch error as? BPFError {
                case .map(let failure)?: failure.errno == .EPERM
                case .kernel(let failure)?: failure.errno == .EPERM
                default: false
                }
            }
        }
    }
}

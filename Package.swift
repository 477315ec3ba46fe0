// swift-tools-version: 6.2
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "SwiftBPF",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SwiftBPF", targets: ["SwiftBPF"]),
        .executable(name: "swiftbpf", targets: ["swiftbpf"]),
        .plugin(name: "SwiftBPFSkeletons", targets: ["SwiftBPFSkeletons"]),
        // Probe sites for host programs in C: sys/sdt.h USDT probes both backends trace.
        .library(name: "SwiftBPFProbes", targets: ["SwiftBPFProbes"]),
    ],
    targets: [
        // C shims: atomics on raw addresses and the bpf(2) entry point (variadic syscall()
        // is not importable into Swift).
        .target(name: "CBPFShims"),
        // USDT probe sites (sys/sdt.h, with semaphores) that the userspace runtime binds hooks to.
        .target(name: "SwiftBPFProbes"),
        // The platform: the C library, files, the clock, CPU counts.
        .target(name: "BPFPlatform", dependencies: ["CBPFShims"], swiftSettings: strict),
        .target(name: "BPFCore", swiftSettings: strict),
        .target(name: "BPFMaps", dependencies: ["BPFCore", "CBPFShims", "BPFPlatform"], swiftSettings: strict),
        .target(name: "BPFVM", dependencies: ["BPFCore", "BPFMaps", "CBPFShims", "BPFPlatform"], swiftSettings: strict),
        .target(name: "BPFVerifier", dependencies: ["BPFCore", "BPFPlatform"], swiftSettings: strict),
        .target(name: "BTF", swiftSettings: strict),
        .target(name: "BPFObject", dependencies: ["BPFCore", "BTF"], swiftSettings: strict),
        // Swift skeletons of objects (`swiftbpf gen skeleton`): typed structs from BTF, typed maps.
        .target(name: "BPFSkeleton", dependencies: ["BPFCore", "BTF", "BPFObject"], swiftSettings: strict),
        .target(name: "BPFKernel", dependencies: ["BPFCore", "BTF", "BPFObject", "BPFMaps", "CBPFShims", "BPFPlatform"], swiftSettings: strict),
        .target(name: "BPFConformance", dependencies: ["BPFCore", "BPFVM", "BPFVerifier", "BPFMaps", "BPFPlatform"], swiftSettings: strict),
        .target(name: "BPFBenchmarks", dependencies: ["BPFCore", "BPFPlatform"], swiftSettings: strict),
        .target(name: "BPFPacket", dependencies: ["BPFCore", "BPFPlatform"], swiftSettings: strict),
        // The benchmark suite the CLI's bench command runs: every figure beside its peer's.
        .target(
            name: "SwiftBPFBench",
            dependencies: [
                "BPFBenchmarks", "BPFCore", "BPFPlatform", "BTF", "BPFObject", "BPFVM", "BPFVerifier", "BPFRuntime", "BPFKernel", "BPFPacket", "SwiftBPFProbes",
            ],
            swiftSettings: strict),
        .target(name: "BPFTestSupport", dependencies: ["BPFCore", "BPFPlatform"], swiftSettings: strict),
        // The verifier's differential fuzzer: structured program generator, the kernel as
        // oracle, minimization.
        .target(
            name: "BPFFuzz", dependencies: ["BPFCore", "BPFVerifier", "BPFMaps", "BPFObject", "BPFKernel", "BPFRuntime", "BTF", "BPFTestSupport"],
            swiftSettings: strict),
        // The userspace backend: loading verified objects into the engines, contexts per program type.
        .target(
            name: "BPFRuntime", dependencies: ["BPFCore", "BTF", "BPFObject", "BPFMaps", "BPFVM", "BPFVerifier", "BPFPlatform", "CBPFShims", "SwiftBPFProbes"],
            swiftSettings: strict),
        // The front: protocols both backends implement, one error, curated exports.
        .target(
            name: "SwiftBPF",
            dependencies: ["BPFPlatform", "BPFCore", "BTF", "BPFObject", "BPFMaps", "BPFVM", "BPFVerifier", "BPFRuntime", "BPFKernel", "BPFPacket"],
            swiftSettings: strict),
        .executableTarget(
            name: "swiftbpf",
            dependencies: [
                "SwiftBPF", "BPFConformance", "BPFBenchmarks", "SwiftBPFBench", "BPFObject", "BTF", "BPFKernel", "BPFFuzz", "BPFPlatform", "BPFCore", "BPFVM",
                "BPFPacket", "BPFSkeleton",
            ],
            swiftSettings: strict
        ),
        // Build tool plugin: a target's *.bpf.c compiled with clang and given Swift skeletons.
        .plugin(name: "SwiftBPFSkeletons", capability: .buildTool(), dependencies: ["swiftbpf"]),
        .testTarget(name: "BPFSkeletonTests", dependencies: ["BPFSkeleton", "BPFObject", "BPFBenchmarks", "BPFTestSupport"], swiftSettings: strict),
        .testTarget(name: "BPFCoreTests", dependencies: ["BPFCore", "BPFPlatform"], swiftSettings: strict),
        .testTarget(name: "BTFTests", dependencies: ["BTF", "BPFObject", "BPFBenchmarks", "BPFTestSupport"], swiftSettings: strict),
        .testTarget(name: "BPFObjectTests", dependencies: ["BPFObject", "BPFCore", "BPFBenchmarks", "BPFTestSupport", "BTF"], swiftSettings: strict),
        .testTarget(
            name: "BPFVerifierTests",
            dependencies: ["BPFVerifier", "BPFCore", "BPFMaps", "BPFVM", "BPFTestSupport", "BPFFuzz", "BPFObject", "BPFKernel", "BTF"],
            swiftSettings: strict),
        .testTarget(name: "BPFMapsTests", dependencies: ["BPFMaps", "BPFCore"], swiftSettings: strict),
        .testTarget(
            name: "BPFPacketTests", dependencies: ["BPFPacket", "BPFCore", "BPFRuntime", "BPFVM", "BPFKernel", "BPFPlatform", "BPFTestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "BPFVMTests", dependencies: ["BPFVM", "BPFCore", "BPFMaps", "BPFConformance", "BPFVerifier", "BPFTestSupport", "BPFPlatform"],
            swiftSettings: strict),
        .testTarget(name: "BPFConformanceTests", dependencies: ["BPFConformance", "BPFCore", "BPFVM", "BPFTestSupport", "BPFPlatform"], swiftSettings: strict),
        .testTarget(
            name: "SwiftBPFTests", dependencies: ["SwiftBPF", "BPFBenchmarks", "BPFTestSupport", "BPFPlatform"], swiftSettings: strict),
        .testTarget(
            name: "BPFRuntimeTests",
            dependencies: [
                "BPFRuntime", "BPFCore", "BPFKernel", "BPFMaps", "BPFObject", "BPFVM", "BPFVerifier", "BTF", "BPFBenchmarks", "BPFTestSupport",
                "BPFPlatform",
            ],
            swiftSettings: strict),
        .testTarget(
            name: "swiftbpfTests",
            dependencies: [
                "swiftbpf", "BPFPacket", "BPFPlatform", "BPFKernel", "BPFObject", "BPFBenchmarks", "BTF", "BPFRuntime", "BPFCore", "BPFVM", "BPFTestSupport",
            ],
            swiftSettings: strict),
        .testTarget(
            name: "BPFKernelTests",
            dependencies: [
                "BPFKernel", "BPFFuzz", "BPFCore", "BTF", "BPFObject", "BPFVM", "BPFVerifier", "BPFConformance", "BPFBenchmarks", "BPFTestSupport",
                "BPFPlatform", "BPFMaps", "BPFRuntime", "SwiftBPFProbes",
            ], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)

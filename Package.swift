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
    ],
    targets: [
        // C shims: atomics on raw addresses and the bpf(2) entry point (variadic syscall()
        // is not importable into Swift).
        .target(name: "CBPFShims"),
        .target(name: "BPFCore", swiftSettings: strict),
        .target(name: "BPFMaps", dependencies: ["BPFCore", "CBPFShims"], swiftSettings: strict),
        .target(name: "BPFVM", dependencies: ["BPFCore", "BPFMaps", "CBPFShims"], swiftSettings: strict),
        .target(name: "BPFVerifier", dependencies: ["BPFCore"], swiftSettings: strict),
        .target(name: "BTF", swiftSettings: strict),
        .target(name: "BPFObject", dependencies: ["BPFCore", "BTF"], swiftSettings: strict),
        .target(name: "BPFKernel", dependencies: ["BPFCore", "BTF", "BPFObject", "BPFMaps", "CBPFShims"], swiftSettings: strict),
        .target(name: "BPFConformance", dependencies: ["BPFCore", "BPFVM", "BPFVerifier", "BPFMaps"], swiftSettings: strict),
        .target(name: "BPFBenchmarks", dependencies: ["BPFCore"], swiftSettings: strict),
        .target(name: "BPFTestSupport", dependencies: ["BPFCore"], swiftSettings: strict),
        // The verifier's differential fuzzer: structured program generator, the kernel as
        // oracle, minimization.
        .target(name: "BPFFuzz", dependencies: ["BPFCore", "BPFVerifier", "BPFMaps", "BPFObject", "BPFKernel", "BPFTestSupport"], swiftSettings: strict),
        // The userspace backend: loading verified objects into the engines, contexts per program type.
        .target(name: "BPFRuntime", dependencies: ["BPFCore", "BTF", "BPFObject", "BPFMaps", "BPFVM", "BPFVerifier"], swiftSettings: strict),
        // The front: protocols both backends implement, one error, curated exports.
        .target(name: "SwiftBPF", dependencies: ["BPFCore", "BTF", "BPFObject", "BPFMaps", "BPFVM", "BPFVerifier", "BPFRuntime", "BPFKernel"], swiftSettings: strict),
        .executableTarget(
            name: "swiftbpf",
            dependencies: [
                "SwiftBPF", "BPFConformance", "BPFBenchmarks", "BPFObject", "BTF", "BPFKernel", "BPFFuzz",
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "BPFCoreTests", dependencies: ["BPFCore"], swiftSettings: strict),
        .testTarget(name: "BTFTests", dependencies: ["BTF", "BPFObject", "BPFBenchmarks", "BPFTestSupport"], swiftSettings: strict),
        .testTarget(name: "BPFObjectTests", dependencies: ["BPFObject", "BPFCore", "BPFBenchmarks", "BPFTestSupport"], swiftSettings: strict),
        .testTarget(name: "BPFVerifierTests", dependencies: ["BPFVerifier", "BPFCore", "BPFMaps", "BPFVM", "BPFTestSupport", "BPFFuzz", "BPFObject", "BPFKernel"], swiftSettings: strict),
        .testTarget(name: "BPFMapsTests", dependencies: ["BPFMaps", "BPFCore"], swiftSettings: strict),
        .testTarget(name: "BPFVMTests", dependencies: ["BPFVM", "BPFCore", "BPFMaps", "BPFConformance", "BPFVerifier", "BPFTestSupport"], swiftSettings: strict),
        .testTarget(name: "BPFConformanceTests", dependencies: ["BPFConformance", "BPFCore", "BPFVM", "BPFTestSupport"], swiftSettings: strict),
        .testTarget(name: "SwiftBPFTests", dependencies: ["SwiftBPF", "BPFBenchmarks", "BPFTestSupport"], swiftSettings: strict),
        .testTarget(name: "swiftbpfTests", dependencies: ["swiftbpf"], swiftSettings: strict),
        .testTarget(name: "BPFKernelTests", dependencies: ["BPFKernel", "BPFFuzz", "BPFCore", "BTF", "BPFObject", "BPFVM", "BPFVerifier", "BPFConformance", "BPFBenchmarks", "BPFTestSupport"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)

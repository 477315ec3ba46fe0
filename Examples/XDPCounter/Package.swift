// swift-tools-version: 6.2
// An XDP packet counter run on both backends through its skeleton, which SwiftBPF's plugin
// generates at build time from bpf/xdp_counter.bpf.c. Depends on SwiftBPF checked out beside it.
import PackageDescription

let package = Package(
    name: "XDPCounter",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "../SwiftBPF")],
    targets: [
        .executableTarget(
            name: "XDPCounter", dependencies: [.product(name: "SwiftBPF", package: "SwiftBPF")], exclude: ["bpf"],
            plugins: [.plugin(name: "SwiftBPFSkeletons", package: "SwiftBPF")])
    ],
    swiftLanguageModes: [.v6]
)

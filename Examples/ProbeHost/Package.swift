// swift-tools-version: 6.2
// A host program with a USDT probe site (RequestProbe, in C) and the eBPF program that traces it
// (bpf/requests.bpf.c, given a Swift skeleton by SwiftBPF's plugin): the same program runs in
// this process on the userspace runtime, or in the kernel on its uprobe. Depends on SwiftBPF
// checked out beside it.
import PackageDescription

let package = Package(
    name: "ProbeHost",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "../SwiftBPF")],
    targets: [
        .target(name: "RequestProbe", dependencies: [.product(name: "SwiftBPFProbes", package: "SwiftBPF")]),
        .executableTarget(
            name: "ProbeHost", dependencies: [.product(name: "SwiftBPF", package: "SwiftBPF"), "RequestProbe"], exclude: ["bpf"],
            plugins: [.plugin(name: "SwiftBPFSkeletons", package: "SwiftBPF")]),
    ],
    swiftLanguageModes: [.v6]
)

// swift-tools-version: 6.2
// The exec monitor as a package: its eBPF program (bpf/exec_monitor.bpf.c) compiled and given a
// Swift skeleton at build time by SwiftBPF's plugin. Depends on SwiftBPF checked out beside it.
import PackageDescription

let package = Package(
    name: "ExecMonitor",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "../SwiftBPF")],
    targets: [
        .executableTarget(
            name: "ExecMonitor", dependencies: [.product(name: "SwiftBPF", package: "SwiftBPF")], exclude: ["bpf"],
            plugins: [.plugin(name: "SwiftBPFSkeletons", package: "SwiftBPF")])
    ],
    swiftLanguageModes: [.v6]
)

// swift-tools-version: 6.2
// The README's embedding example as a package of its own, depending on SwiftBPF checked out
// beside it (../SwiftBPF). A project of yours would name the repository's URL instead.
import PackageDescription

let package = Package(
    name: "Embedding",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "../SwiftBPF")],
    targets: [
        .executableTarget(name: "Embedding", dependencies: [.product(name: "SwiftBPF", package: "SwiftBPF")])
    ],
    swiftLanguageModes: [.v6]
)

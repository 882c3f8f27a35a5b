// swift-tools-version:6.2
// The benchmarks of cus-kiosk, in package-benchmark (ordo-one/benchmark), as a package of their own so that
// the test run (.ci/run) never builds them. Run from the repository's root, after a release build of the
// binaries the end-to-end benchmarks start (see docs/benchmarks.md):
//
//   swift build -c release --product kioskd && swift build -c release --product cus-central
//   swift package --package-path Benchmarks benchmark --target CheckPath

import Foundation
import PackageDescription

/// The root package's identity is the name of its folder (a path dependency has no other).
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// A package-benchmark target: `Benchmarks/NAME/*.swift`, run by `swift package benchmark`.
func benchmark(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(
        name: name,
        dependencies: [
            "BenchmarkSupport",
            .product(name: "Benchmark", package: "benchmark"),
            .product(name: "CusKioskModules", package: root),
            .product(name: "CNFC", package: root),
        ] + dependencies,
        path: "Benchmarks/\(name)",
        swiftSettings: swiftSettings,
        plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    )
}

let package = Package(
    name: "cus-kiosk-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        // The malloc interposer only: its Linux runtime interposer is not a package this project can fetch.
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .target(
            name: "BenchmarkSupport",
            dependencies: [.product(name: "Benchmark", package: "benchmark")],
            swiftSettings: swiftSettings
        ),
        benchmark("CheckPath", [.product(name: "Logging", package: "swift-log")]),
        benchmark("TapToVerdict", [.product(name: "Logging", package: "swift-log")]),
        benchmark("Fleet", []),
        benchmark("RegistryImport", []),
        benchmark("KioskSync", [
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
        ]),
    ]
)

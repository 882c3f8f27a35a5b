// swift-tools-version:6.2
// cus-kiosk: an offline-first card-check kiosk for the CUS Starachowice.

import PackageDescription

/// Strictness borrowed from Hummingbird: every dependency a file uses is visible at its top.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "cus-kiosk",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kioskd", targets: ["kioskd"]),
        .executable(name: "kioskctl", targets: ["kioskctl"]),
        .executable(name: "pn532-emulator", targets: ["pn532-emulator"]),
        .executable(name: "cus-central", targets: ["cus-central"]),
        // For the benchmarks' package (Benchmarks/Package.swift) only: not a stable library interface.
        .library(name: "CNFC", targets: ["CNFC"]),
        .library(
            name: "CusKioskModules",
            targets: ["CardModel", "CardCheck", "CardFormat", "CardReader", "PN532Emulator", "Replica", "RegistryCSV", "KioskCore", "Outbox", "Sync"]
        ),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
    ],
    targets: [
        // MARK: The card and its check
        .target(name: "CardModel", swiftSettings: swiftSettings),
        .target(name: "CardCheck", dependencies: ["CardModel"], swiftSettings: swiftSettings),
        .target(name: "RegistryCSV", dependencies: ["CardModel"], swiftSettings: swiftSettings),
        .target(name: "StateFiles", swiftSettings: swiftSettings),
        .target(
            name: "Replica",
            dependencies: [
                "CardModel", "RegistryCSV", "StateFiles",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: NFC
        .systemLibrary(
            name: "CNFC",
            pkgConfig: "libnfc",
            providers: [.apt(["libnfc-dev"])]
        ),
        .target(
            name: "CardFormat",
            dependencies: [
                "CardModel",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CardReader",
            dependencies: [
                "CNFC", "CardModel", "CardFormat",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "PN532Emulator", swiftSettings: swiftSettings),
        .target(name: "CommandLineProgress", swiftSettings: swiftSettings),

        // MARK: Running under systemd
        .target(name: "SystemdNotify", swiftSettings: swiftSettings),

        // MARK: The daemon
        .target(
            name: "KioskConfig",
            dependencies: ["CardModel", "StateFiles"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Outbox",
            dependencies: [
                "CardModel", "CentralWire", "StateFiles",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "CentralWire", dependencies: ["CardModel"], swiftSettings: swiftSettings),
        .target(name: "ServiceRules", dependencies: ["CardModel", "CentralWire"], swiftSettings: swiftSettings),
        .target(name: "TicketPrinter", dependencies: ["CardModel"], swiftSettings: swiftSettings),
        .target(name: "Speech", swiftSettings: swiftSettings),
        .target(
            name: "StaffAccess",
            dependencies: ["CardModel", .product(name: "Crypto", package: "swift-crypto"), .product(name: "CryptoExtras", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StateBackup",
            dependencies: [
                "StateFiles",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KioskMetrics",
            dependencies: [.product(name: "CoreMetrics", package: "swift-metrics")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KioskCore",
            dependencies: [
                "CardModel", "CardCheck", "Replica", "Outbox", "KioskMetrics", "CentralWire", "ServiceRules", "StateFiles", "StaffAccess",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KioskAPI",
            dependencies: [
                "CardModel", "CardCheck", "CentralWire", "Replica", "Outbox", "StateFiles", "KioskCore", "Speech", "TicketPrinter", "StaffAccess",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Sync",
            dependencies: [
                "CardModel", "CentralWire", "Replica", "Outbox", "KioskCore", "KioskMetrics",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KioskDaemon",
            dependencies: [
                "CardModel", "CardCheck", "Replica", "KioskConfig", "KioskCore", "KioskAPI", "CardReader", "CardFormat", "Outbox", "Sync", "StateFiles",
                "KioskMetrics", "SystemdNotify", "Speech", "TicketPrinter", "StaffAccess",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: The central server
        .target(
            name: "CentralStore",
            dependencies: [
                "CardModel", "CentralWire", "RegistryCSV", "ServiceRules",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CentralAPI",
            dependencies: [
                "CardModel", "CentralWire", "CentralStore", "ServiceRules",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Self-check
        .systemLibrary(name: "CTimex"),
        .target(
            name: "Doctor",
            dependencies: [
                "CTimex", "CardModel", "CardReader", "KioskConfig", "KioskCore", "Replica", "Outbox", "StateFiles",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Executables (thin)
        .executableTarget(
            name: "cus-central",
            dependencies: [
                "CardModel", "CentralWire", "RegistryCSV", "CentralStore", "CentralAPI", "SystemdNotify", "CommandLineProgress",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "kioskd",
            dependencies: [
                "KioskDaemon", "CardReader",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "kioskctl",
            dependencies: [
                "CardModel", "CardCheck", "Replica", "RegistryCSV", "KioskConfig", "KioskCore", "CardFormat", "CardReader", "StateFiles", "StateBackup",
                "CommandLineProgress", "Doctor", "Outbox", "CentralWire", "StaffAccess",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "pn532-emulator",
            dependencies: [
                "PN532Emulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Tests
        .target(name: "KioskTestSupport", path: "Tests/KioskTestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "CardCheckTests", dependencies: ["CardModel", "CardCheck"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ReplicaTests",
            dependencies: ["CardModel", "Replica", "RegistryCSV", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "KioskConfigTests", dependencies: ["KioskConfig"], swiftSettings: swiftSettings),
        .testTarget(
            name: "KioskdTests",
            dependencies: [
                "KioskTestSupport",
                "CardModel", "CardCheck", "Replica", "RegistryCSV", "KioskConfig", "KioskCore", "KioskAPI", "KioskDaemon", "PN532Emulator", "Outbox",
                "StateFiles", "SystemdNotify", "CentralWire", "ServiceRules", "TicketPrinter",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CentralTests",
            dependencies: [
                "CardModel", "CentralWire", "RegistryCSV", "CentralStore", "CentralAPI", "KioskTestSupport",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "SpeechTests", dependencies: ["Speech"], swiftSettings: swiftSettings),
        .testTarget(name: "StaffAccessTests", dependencies: ["StaffAccess", "CardModel"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TicketPrinterTests",
            dependencies: ["TicketPrinter", "CardModel"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ServiceRulesTests",
            dependencies: ["ServiceRules", "CentralWire", "CardModel"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CentralWireTests",
            dependencies: ["CentralWire", "CardModel", "KioskTestSupport", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "OutboxTests", dependencies: ["Outbox", "CardModel", "CentralWire", .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: swiftSettings),
        .testTarget(
            name: "SyncTests",
            dependencies: [
                "KioskTestSupport",
                "CardModel", "CentralWire", "Replica", "Outbox", "KioskCore", "Sync", "PN532Emulator", "ServiceRules",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "CardFormatTests", dependencies: ["CardModel", "CardFormat", "KioskTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "PN532EmulatorTests", dependencies: ["PN532Emulator", "KioskTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "PackagingTests", dependencies: ["KioskTestSupport", "KioskConfig", "KioskCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "CommandLineProgressTests", dependencies: ["CommandLineProgress", "KioskTestSupport"], swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CardReaderTests",
            dependencies: [
                "CardModel", "CardFormat", "CardReader", "PN532Emulator", "KioskTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)

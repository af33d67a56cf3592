// swift-tools-version:6.0
import Foundation
import PackageDescription

/// Each processor's simulator lives in its own folder,
/// `Sources/Processors/NAME/Simulator/`, but is compiled into the Sandbox
/// target (never into Processors, which production code links): found here,
/// so adding a processor needs no edit of this file.
let sourcesFolder = Context.packageDirectory + "/Sources"
func entries(_ folder: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: "\(sourcesFolder)/\(folder)")) ?? []).sorted()
}
let simulatorFolders = entries("Processors").filter { entries("Processors/\($0)").contains("Simulator") }.map { "\($0)/Simulator" }
/// Everything under Sources/ the Sandbox target does not compile (its path is Sources/ to reach the simulators).
let notSandbox = entries("").filter { $0 != "Sandbox" && $0 != "Processors" }
    + entries("Processors").flatMap { folder in
        entries("Processors/\(folder)").isEmpty ? ["Processors/\(folder)"]
            : entries("Processors/\(folder)").filter { $0 != "Simulator" }.map { "Processors/\(folder)/\($0)" }
    }

/// Language settings shared by every Swift target: Swift 6 mode plus the
/// upcoming features that tighten it.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "fundq",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "fundq", targets: ["fundq"]),
        .library(name: "Core", targets: ["Core"]),
        .library(name: "Backends", targets: ["Backends", "RedisDriver", "SQLiteDriver", "MariaDBDriver", "CurlHTTP"]),
        .library(name: "Consumers", targets: ["Consumers"]),
        .library(name: "Processors", targets: ["Processors"]),
        .library(name: "Sandbox", targets: ["Sandbox"]),
        .library(name: "Rectifier", targets: ["Rectifier"]),
        .library(name: "Tracking", targets: ["Tracking"]),
        .library(name: "Impressions", targets: ["Impressions"]),
        .library(name: "Operations", targets: ["Operations"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // C libraries from Debian, one system-library target each.
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CMariaDB", pkgConfig: "libmariadb", providers: [.apt(["libmariadb-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // The model and its protocols (messages, JSON, queue and store protocols, processor contracts): no C library.
        .target(
            name: "Core",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        // One target per driver, each on its one C library.
        .target(name: "RedisDriver", dependencies: ["Core", "CHiredis"], swiftSettings: strictSettings),
        .target(name: "SQLiteDriver", dependencies: ["Core", "CSQLite"], swiftSettings: strictSettings),
        .target(name: "MariaDBDriver", dependencies: ["Core", "CMariaDB"], swiftSettings: strictSettings),
        .target(name: "CurlHTTP", dependencies: ["Core", "CCurl"], swiftSettings: strictSettings),
        // Opens the configured backends (queues, databases) from settings and URLs.
        .target(
            name: "Backends",
            dependencies: ["Core", "RedisDriver", "SQLiteDriver", "MariaDBDriver", "CurlHTTP"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Processors",
            dependencies: ["Core", "CurlHTTP", .product(name: "Crypto", package: "swift-crypto")],
            exclude: simulatorFolders,
            swiftSettings: strictSettings
        ),
        .target(
            name: "Sandbox",
            dependencies: ["Core", "Processors", .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "Logging", package: "swift-log")],
            path: "Sources",
            exclude: notSandbox,
            sources: ["Sandbox"] + simulatorFolders.map { "Processors/\($0)" },
            swiftSettings: strictSettings
        ),
        .target(
            name: "Rectifier",
            dependencies: ["Core", "Backends", "RedisDriver", "SQLiteDriver", "MariaDBDriver",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Consumers",
            dependencies: ["Core", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Tracking",
            dependencies: ["Core", "Backends", "RedisDriver", "SQLiteDriver"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Impressions",
            dependencies: ["Core", "MariaDBDriver", "SQLiteDriver", "CRdKafka", "CZlib", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        // Operating fundq: status, metrics and health endpoints (the one network server library lives here).
        .target(
            name: "Operations",
            dependencies: [
                "Core", "Backends", "Rectifier",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "fundq",
            dependencies: [
                "Core",
                "Backends",
                "Consumers",
                "CurlHTTP",
                "Impressions",
                "MariaDBDriver",
                "Operations",
                "Processors",
                "Rectifier",
                "RedisDriver",
                "Sandbox",
                "SQLiteDriver",
                "Tracking",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),

        // Shared helpers for every test target: server launchers, temporary
        // folders, running the fundq binary as a real child process.
        .target(
            name: "FundqTestSupport",
            dependencies: ["Core", "Backends", "RedisDriver", "SQLiteDriver", "MariaDBDriver", "Processors", "Sandbox"],
            path: "Tests/FundqTestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CoreTests",
            dependencies: ["Core", "Backends", "RedisDriver", "SQLiteDriver", "MariaDBDriver", "CurlHTTP", "FundqTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ProcessorsTests",
            dependencies: ["Core", "Backends", "CurlHTTP", "Processors", "Sandbox", "FundqTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "RectifierTests",
            dependencies: ["Core", "Backends", "SQLiteDriver", "Consumers", "Processors", "Rectifier", "Sandbox", "FundqTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ConsumersTests",
            dependencies: ["Core", "Backends", "Consumers", "FundqTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TrackingTests",
            dependencies: ["Core", "Backends", "RedisDriver", "MariaDBDriver", "Consumers", "Tracking", "FundqTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ImpressionsTests",
            dependencies: ["Core", "Backends", "Impressions", "FundqTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "OperationsTests",
            dependencies: ["Core", "Operations", "FundqTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "FundqCLITests",
            dependencies: ["Core", "Backends", "RedisDriver", "SQLiteDriver", "MariaDBDriver", "FundqTestSupport", "Sandbox", "Rectifier",
                           "fundq"],
            swiftSettings: strictSettings
        ),
    ]
)

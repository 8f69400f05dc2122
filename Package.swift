// swift-tools-version: 6.2
//
// drctl: backup and disaster recovery for mail stores of encrypted SQLite mailboxes.
//
// Layering (see docs/ARCHITECTURE.md): each C library is imported by exactly one Swift
// module (CSodium → DRCrypto, CZstd → DRCompression, CCurl → DRTransport,
// CSQLite → DRSQLite, CCrypto → DRLibcrypto); nothing above those modules sees a C type.
import PackageDescription

/// Settings for the project's own targets: Swift 6 mode, warnings are errors (here, not on
/// the command line, so that dependencies are not affected), stricter import hygiene.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .treatAllWarnings(as: .error),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "drctl",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "drctl", targets: ["drctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Log lines through the ecosystem's API, with handlers of ours (Sources/DRLog). 1.16 is
        // the first with `LogHandler.log(event:)`, which our handlers implement.
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
    ],
    targets: [
        // C libraries, each behind a module map and a shim header of typed wrappers.
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium",
                       providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"])]),
        // OpenSSL's libcrypto, for the AES-128 block function of the IP pseudonyms (libsodium
        // 1.0.18 has none; docs/LOGS.md), and SHA-256 with the CPU's SHA extensions and MD5 (the
        // hashes of every S3 upload's body).
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),

        // prctl(2) is variadic: typed wrappers in C (our own code, no external library).
        .target(name: "CDRSystem"),
        // Shared vocabulary: error protocol, exit codes, process hardening, file checks.
        .target(name: "DRBase", dependencies: ["CDRSystem"], swiftSettings: strict),
        // Our swift-log handlers: journald lines with syslog priorities, or text for a person.
        .target(name: "DRLog", dependencies: ["DRBase", .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        // The only importer of libcrypto: the AES-128 block function of the IP pseudonyms, and
        // SHA-256 with the CPU's SHA extensions (~5x libsodium 1.0.18's portable C here) and MD5.
        .target(name: "DRLibcrypto", dependencies: ["CCrypto"], swiftSettings: strict),
        // The only importer of libsodium; its SHA256 and MD5 types compute through DRLibcrypto.
        .target(name: "DRCrypto", dependencies: ["CSodium", "DRBase", "DRLibcrypto"], swiftSettings: strict),
        // The only importer of libzstd.
        .target(name: "DRCompression", dependencies: ["CZstd", "DRBase"], swiftSettings: strict),
        // The only importer of sqlite3 (plain databases: local caches, image checks).
        .target(name: "DRSQLite", dependencies: ["CSQLite", "DRBase"], swiftSettings: strict),
        // The only importer of libcurl: S3 over HTTPS (SigV4 signed with DRCrypto), and file:// targets.
        .target(name: "DRTransport", dependencies: ["CCurl", "DRBase", "DRCrypto"], swiftSettings: strict),
        // Prefix-preserving IP pseudonyms (ipcrypt-pfx, Crypto-PAn) on DRLibcrypto's AES block.
        .target(name: "DRIPPseudonym", dependencies: ["DRLibcrypto", "DRBase"], swiftSettings: strict),
        // Mail-server logs anonymized line by line: IPs, addresses, usernames, sessions, secrets.
        // Dynamic exclusivity checks off for this target only (static checks stay): they cost ~5.5 %
        // of the anonymizer's CPU (perf, 200 MB log: swift_beginAccess/AccessSet/TLS on every
        // append to the scanner's spans, arena and output), and those buffers are class properties
        // touched only by their own instance on one thread; the one inout handed to a closure (the
        // arena, in LineScanner.replace(write:)) is only appended to by that closure.
        .target(name: "DRLogAnonymizer", dependencies: ["DRBase", "DRConfig", "DRCrypto", "DRIPPseudonym"],
                swiftSettings: strict + [.unsafeFlags(["-enforce-exclusivity=unchecked"])]),
        // TOML configuration with line-accurate errors.
        .target(name: "DRConfig", dependencies: ["DRBase"], swiftSettings: strict),
        // Keyless consistent images of live SQLite files (POSIX locks, WAL, -shm).
        .target(name: "DRImage", dependencies: ["DRBase"], swiftSettings: strict),
        // Content-defined chunking for files that are not SQLite databases.
        .target(name: "DRChunking", swiftSettings: strict),
        // Repository format: config, keys, packs, index, manifests.
        .target(name: "DRRepository",
                dependencies: ["DRBase", "DRCrypto", "DRCompression", "DRSQLite", "DRTransport"],
                swiftSettings: strict),
        // The jobs (init, key management, backup, restore, drill, run).
        .target(name: "DRCore",
                dependencies: ["DRBase", "DRChunking", "DRCompression", "DRConfig", "DRCrypto", "DRRepository",
                               "DRImage", "DRLogAnonymizer", "DRSQLite", "DRTransport",
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        .executableTarget(
            name: "drctl",
            dependencies: [
                "DRBase", "DRConfig", "DRCore", "DRCrypto", "DRImage", "DRIPPseudonym", "DRLog", "DRLogAnonymizer",
                "DRTransport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),

        // Harnesses for every parser of untrusted bytes (docs/SECURITY.md, "Fuzzing").
        .target(name: "DRFuzzing", dependencies: ["DRBase", "DRConfig", "DRImage", "DRRepository", "DRSQLite"],
                swiftSettings: strict),
        // The harnesses under libFuzzer (scripts/fuzz) or replaying and mutating inputs.
        .executableTarget(name: "drctl-fuzz", dependencies: ["DRFuzzing"], swiftSettings: strict),

        // Measurements of the hot paths: `swift run -c release drctl-bench compression`.
        .executableTarget(name: "drctl-bench", dependencies: ["DRCompression", "DRCrypto"],
                          swiftSettings: strict),

        // What the test targets share: the real S3 servers that scripts/s3-servers runs.
        .target(name: "DRTestSupport", dependencies: ["DRTransport", "DRCrypto"], path: "Tests/DRTestSupport",
                swiftSettings: strict),
        .testTarget(name: "DRBaseTests", dependencies: ["DRBase"], swiftSettings: strict),
        .testTarget(name: "DRCryptoTests", dependencies: ["DRCrypto", "DRBase"],
                    resources: [.copy("Vectors")], swiftSettings: strict),
        .testTarget(name: "DRCompressionTests", dependencies: ["DRCompression"],
                    swiftSettings: strict),
        .testTarget(name: "DRConfigTests", dependencies: ["DRConfig", "DRBase"],
                    swiftSettings: strict),
        .testTarget(name: "DRImageTests", dependencies: ["DRImage", "DRBase", "DRSQLite"],
                    swiftSettings: strict),
        .testTarget(name: "DRCoreTests", dependencies: ["DRCore", "DRRepository", "DRBase"], swiftSettings: strict),
        .testTarget(name: "DRChunkingTests", dependencies: ["DRChunking"], swiftSettings: strict),
        .testTarget(name: "DRRepositoryTests", dependencies: ["DRRepository", "DRCrypto", "DRBase"],
                    swiftSettings: strict),
        // Fixtures are read relative to #filePath (no resource bundle), so excluded here.
        .testTarget(name: "DRTransportTests", dependencies: ["DRTransport", "DRCrypto", "DRBase", "DRTestSupport"],
                    exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(name: "DRFuzzingTests", dependencies: ["DRFuzzing", "DRBase"], swiftSettings: strict),
        // End-to-end tests: they run the built `drctl` binary.
        .testTarget(name: "drctlTests", dependencies: ["drctl", "DRBase", "DRConfig", "DRCore", "DRRepository", "DRTransport", "DRCompression", "DRCrypto", "DRTestSupport",
                                                  "DRLog", .product(name: "Logging", package: "swift-log")],
                    // Read relative to #filePath (no resource bundle), so excluded here.
                    exclude: ["Vectors"], swiftSettings: strict),
    ]
)

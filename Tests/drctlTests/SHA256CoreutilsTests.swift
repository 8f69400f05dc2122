import DRCrypto
import Foundation
import Testing

/// The SHA-256 that signs S3 uploads (libcrypto, DRCrypto.SHA256) against an independent
/// implementation, coreutils' sha256sum, at the lengths where padding changes. Here and not in
/// DRCryptoTests: those also run under AddressSanitizer, whose leak check flags Foundation's
/// `Process` itself.
@Suite("SHA-256 against coreutils")
struct SHA256CoreutilsTests {
    /// Deterministic bytes (xorshift), different for each length.
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed | 1
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state >> 24)
        }
    }

    @Test("SHA-256 agrees with sha256sum", arguments: [0, 1, 55, 56, 63, 64, 65, 127, 128, 129, 100_003])
    func againstSha256sum(length: Int) throws {
        let input = Self.bytes(length, seed: UInt64(length) + 7)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("drctl-sha-\(UUID().uuidString)").path
        try Data(input).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sha256sum", path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "sha256sum failed: \(text)")
        #expect(text.split(separator: " ").first.map(String.init) == SHA256.hexDigest(input))
    }
}

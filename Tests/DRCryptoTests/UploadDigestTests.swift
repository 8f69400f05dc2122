import DRBase
@testable import DRCrypto
import Foundation
import Testing

/// SHA-256 and MD5 as S3 uploads use them, computed by libcrypto (DRLibcrypto): the
/// incremental and one-shot forms agree wherever the input is split, threads hashing at once
/// do not disturb each other, and the results agree with independent implementations
/// (coreutils' `sha256sum`; drctl's Swift MD5). The published known answers are in
/// SHA256Tests (FIPS 180-2/180-4 examples) and MD5Tests (RFC 1321).
@Suite("SHA-256 and MD5 of uploads (libcrypto)")
struct UploadDigestTests {
    /// Bytes that repeat no block, the same on every run (xorshift64).
    static func bytes(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state >> 24)
        }
    }

    @Test("SHA-256: every split of 0…200 bytes gives the one-shot digest")
    func everySplit() {
        let input = Self.bytes(200)
        for length in 0...input.count {
            let whole = SHA256.hash(Array(input[..<length]))
            for cut in 0...length {
                var hasher = SHA256Hasher()
                hasher.update(Array(input[..<cut]))
                hasher.update(Array(input[cut..<length]))
                #expect(hasher.finalize() == whole, "length \(length), cut at \(cut)")
            }
        }
    }

    @Test("SHA-256: a 1 MiB + 3 body fed in odd pieces gives the one-shot digest")
    func oddPieces() {
        let input = Self.bytes((1 << 20) + 3)
        var hasher = SHA256Hasher()
        var offset = 0
        var piece = 1
        input.withUnsafeBytes { raw in
            while offset < raw.count {
                let end = min(raw.count, offset + piece)
                hasher.update(UnsafeRawBufferPointer(rebasing: raw[offset..<end]))
                offset = end
                piece = piece * 7 % 65_537 + 1   // 8, 57, 400, …: every residue of a 64-byte block
            }
        }
        #expect(hasher.finalize() == SHA256.hash(input))
    }

    @Test("SHA-256 and MD5 from eight threads at once equal the digests computed alone")
    func concurrent() async {
        let bodies = (0..<8).map { Self.bytes(300_000 + 977 * $0, seed: UInt64($0) + 1) }
        let alone = bodies.map { (SHA256.hash($0), MD5.hash($0)) }
        let together = await withTaskGroup(of: (Int, [UInt8], [UInt8]).self) { group in
            for (index, body) in bodies.enumerated() {
                group.addTask {
                    var sha = [UInt8](), md5 = [UInt8]()
                    for _ in 0..<5 { sha = SHA256.hash(body); md5 = MD5.hash(body) }
                    return (index, sha, md5)
                }
            }
            var results = [(sha: [UInt8], md5: [UInt8])](repeating: ([], []), count: bodies.count)
            for await (index, sha, md5) in group { results[index] = (sha, md5) }
            return results
        }
        for index in bodies.indices {
            #expect(together[index].sha == alone[index].0, "body \(index)")
            #expect(together[index].md5 == alone[index].1, "body \(index)")
        }
    }

    @Test("MD5: libcrypto's and the Swift fallback agree at every length 0…300 and on 1 MiB + 5")
    func md5Implementations() {
        let input = Self.bytes((1 << 20) + 5)
        input.withUnsafeBytes { raw in
            for length in Array(0...300) + [raw.count] {
                let part = UnsafeRawBufferPointer(rebasing: raw[..<length])
                #expect(MD5.hash(part) == PortableMD5.hash(part), "length \(length)")
            }
        }
    }
}

import DRBase
import DRCrypto
import Testing

/// MD5 against RFC 1321's test suite, plus lengths around the padding boundaries (55, 56,
/// 63, 64, 119, 120 bytes: where the length field does or does not fit the last block),
/// whose digests were computed with Python's hashlib.
@Suite("MD5 (Content-MD5 and ETag checks)")
struct MD5Tests {
    @Test("RFC 1321 appendix A.5 test suite", arguments: [
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
        ("a", "0cc175b9c0f1b6a831c399e269772661"),
        ("abc", "900150983cd24fb0d6963f7d28e17f72"),
        ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"),
        (String(repeating: "1234567890", count: 8), "57edf4a22be3c955ac49da2e2107b67a"),
    ])
    func rfcSuite(input: String, digest: String) {
        #expect(MD5.hexDigest(Array(input.utf8)) == digest)
    }

    @Test("lengths at the padding boundaries", arguments: [
        (55, "6912ee65fff2d9f9ce2508cddf8bcda0"), (56, "51fdd1acda72405dfdfa03fcb85896d7"),
        (57, "5320ef4c17ef34a0cf2db763338d25eb"), (63, "48a6295221902e8e0938f773a7185e72"),
        (64, "b2d3f56bc197fd985d5965079b5e7148"), (65, "8bd7053801c768420faf816fadba971c"),
        (119, "1c772251899a7ff007400b888d6b2042"), (120, "b7ba1efc6022e9ed272f00b8831e26e6"),
        (1000, "a24f1e3ef66950e1327f210e3997ba2c"), (100_000, "28cb595c158e9b74e34ae9e8da710fff"),
    ])
    func boundaries(length: Int, digest: String) {
        let bytes = (0..<length).map { UInt8($0 % 251) }
        #expect(MD5.hexDigest(bytes) == digest)
        // A slice that does not start at index 0 hashes the same.
        let padded = [0xAA] + bytes
        #expect(Hex.encode(MD5.hash(padded[1...])) == digest)
    }

    @Test("Content-MD5 is the base64 of the digest")
    func contentMD5() {
        #expect(MD5.base64Digest(ArraySlice(Array("abc".utf8))) == "kAFQmDzST7DWlj99KOF/cg==")
    }
}

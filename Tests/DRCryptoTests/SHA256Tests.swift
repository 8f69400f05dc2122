import DRBase
@testable import DRCrypto
import Testing

struct SHA256Vector: Decodable, Sendable, CustomTestStringConvertible {
    let name: String
    let input: String
    /// The input is `input` repeated this many times (FIPS's one million "a").
    let repetitions: Int
    let output: String
    var testDescription: String { name }
}

struct HMACSHA256Vector: Decodable, Sendable, CustomTestStringConvertible {
    let name: String
    let key: String
    let data: String
    /// Full 64 hex digits, or 32 for RFC 4231's truncated test case 5 (a prefix check).
    let output: String
    var testDescription: String { name }
}

private struct SHA256Vectors: Decodable { let vectors: [SHA256Vector] }
private struct HMACSHA256Vectors: Decodable { let vectors: [HMACSHA256Vector] }

let sha256Vectors: [SHA256Vector] = (try? loadVectors("sha256", as: SHA256Vectors.self).vectors) ?? []
let hmacSHA256Vectors: [HMACSHA256Vector] = (try? loadVectors("hmac-sha256", as: HMACSHA256Vectors.self).vectors) ?? []

@Suite("SHA-256 and HMAC-SHA-256 (for SigV4)")
struct SigV4CryptoTests {
    @Test("the fixtures are loaded")
    func fixturesLoaded() {
        #expect(sha256Vectors.count == 4)
        #expect(hmacSHA256Vectors.count == 7)
    }

    @Test("SHA-256 one-shot matches FIPS 180-2", arguments: sha256Vectors)
    func sha256OneShot(_ vector: SHA256Vector) throws {
        let input = Array(repeating: try hex(vector.input), count: vector.repetitions).flatMap { $0 }
        #expect(Hex.encode(SHA256.hash(input)) == vector.output)
        #expect(SHA256.hexDigest(input) == vector.output)
    }

    @Test("SHA-256 streaming in uneven pieces matches FIPS 180-2", arguments: sha256Vectors)
    func sha256Streaming(_ vector: SHA256Vector) throws {
        let input = Array(repeating: try hex(vector.input), count: vector.repetitions).flatMap { $0 }
        var hasher = SHA256Hasher()
        var offset = 0
        var piece = 1
        while offset < input.count {
            let end = min(input.count, offset + piece)
            hasher.update(Array(input[offset..<end]))
            offset = end
            piece = piece * 3 + 1   // 1, 4, 13, 40, … crosses the 64-byte block edge
        }
        #expect(Hex.encode(hasher.finalize()) == vector.output)
    }

    @Test("SHA-256 of text hashes its UTF-8 bytes")
    func sha256Text() {
        #expect(SHA256.hexDigest(utf8: "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hash(utf8: "ሴ") == SHA256.hash([0xe1, 0x88, 0xb4]))
    }

    @Test("HMAC-SHA-256 matches RFC 4231, keys of any length", arguments: hmacSHA256Vectors)
    func hmac(_ vector: HMACSHA256Vector) throws {
        let key = try secret(hex(vector.key))
        let data = try hex(vector.data)
        let mac = Hex.encode(try HMACSHA256.authenticate(data, key: key))
        #expect(mac.hasPrefix(vector.output))
        #expect(mac.count == 64)

        // Streaming, one byte at a time, and into secure memory: the same MAC.
        var hasher = try HMACSHA256Hasher(key: key)
        for byte in data { hasher.update([byte]) }
        #expect(Hex.encode(hasher.finalize()) == mac)
        let derived = try HMACSHA256.deriveKey(data, key: key)
        derived.withUnsafeBytes { #expect(Hex.encode($0) == mac) }
    }

    @Test("HMAC-SHA-256 accepts an empty key and message")
    func hmacEmpty() throws {
        let key = try SecureBytes(count: 0)
        // HMAC-SHA-256("", ""), computed independently (Python's hmac module).
        #expect(Hex.encode(try HMACSHA256.authenticate([], key: key))
            == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
    }
}

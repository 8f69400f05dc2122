import DRBase
@testable import DRCrypto
import Foundation
import Testing

struct Ed25519Vector: Decodable, Sendable, CustomTestStringConvertible {
    let name, secretKey, publicKey, message, signature: String
    var testDescription: String { name }
}

struct Ed25519Vectors: Decodable { let vectors: [Ed25519Vector] }

let ed25519Vectors: [Ed25519Vector] = (try? loadVectors("ed25519", as: Ed25519Vectors.self).vectors) ?? []

@Suite("Ed25519")
struct Ed25519Tests {
    @Test("the fixture has RFC 8032 TEST 1, 2 and 3")
    func fixtureLoaded() {
        #expect(ed25519Vectors.map(\.name) == ["TEST 1", "TEST 2", "TEST 3"])
    }

    @Test("RFC 8032 7.1: seed gives the public key and the signature", arguments: ed25519Vectors)
    func knownAnswer(_ vector: Ed25519Vector) throws {
        let seed = try secret(hex(vector.secretKey))
        let key = try Ed25519SigningKey(seed: seed)
        #expect(key.publicKey == (try hex(vector.publicKey)))
        let signature = key.sign(try hex(vector.message))
        #expect(signature == (try hex(vector.signature)))
        #expect(Ed25519.verify(signature: try hex(vector.signature), message: try hex(vector.message),
                               publicKey: try hex(vector.publicKey)))
    }

    @Test("verification rejects any flipped bit in signature, message or public key", arguments: ed25519Vectors)
    func rejectsFlips(_ vector: Ed25519Vector) throws {
        let signature = try hex(vector.signature)
        let message = try hex(vector.message)
        let publicKey = try hex(vector.publicKey)
        for index in signature.indices {
            var bad = signature
            bad[index] ^= 0x01
            #expect(!Ed25519.verify(signature: bad, message: message, publicKey: publicKey), "signature byte \(index)")
        }
        for index in message.indices {
            var bad = message
            bad[index] ^= 0x80
            #expect(!Ed25519.verify(signature: signature, message: bad, publicKey: publicKey))
        }
        var badKey = publicKey
        badKey[0] ^= 0x01
        #expect(!Ed25519.verify(signature: signature, message: message, publicKey: badKey))
        #expect(!Ed25519.verify(signature: signature, message: message + [0], publicKey: publicKey))
        #expect(!Ed25519.verify(signature: Array(signature.dropLast()), message: message, publicKey: publicKey))
    }

    @Test("generated keys sign and verify; different keys do not verify each other")
    func generated() throws {
        let a = try Ed25519SigningKey.generate()
        let b = try Ed25519SigningKey.generate()
        #expect(a.publicKey != b.publicKey)
        let report = Array("drill report 2026-11-28: RPO 23h, RTO 41m".utf8)
        let signature = a.sign(report)
        #expect(Ed25519.verify(signature: signature, message: report, publicKey: a.publicKey))
        #expect(!Ed25519.verify(signature: signature, message: report, publicKey: b.publicKey))
    }

    @Test("the seed survives a round trip through a 0600 file; no overwrite")
    func seedFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let key = try Ed25519SigningKey.generate()
        let path = directory.path + "/drill-signing.key"
        try key.writeSeed(toFile: path)
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(info.st_size == 32)
        let loaded = try Ed25519SigningKey.load(seedFile: path)
        #expect(loaded.publicKey == key.publicKey)
        let loadedSeed = try loaded.seed()
        let originalSeed = try key.seed()
        let sameSeed = loadedSeed.constantTimeEquals(originalSeed)
        #expect(sameSeed)
        let error = #expect(throws: CryptoError.self) { _ = try key.writeSeed(toFile: path) }
        #expect(error?.code == .cryptoSecretFileExists)
        let wrongSize = try directory.file("short.key", contents: [1, 2, 3], mode: 0o600)
        let sizeError = #expect(throws: CryptoError.self) { _ = try Ed25519SigningKey.load(seedFile: wrongSize) }
        #expect(sizeError?.message.contains(wrongSize) == true)
    }
}

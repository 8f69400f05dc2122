import DRBase
@testable import DRCrypto
import Testing

struct KDFVector: Decodable, Sendable, CustomTestStringConvertible {
    let purpose: String
    let length: Int
    let subkey: String
    var testDescription: String { "\(purpose)/\(length)" }
}

struct KDFVectors: Decodable, Sendable {
    let master: String
    let vectors: [KDFVector]
}

let kdfVectors = try? loadVectors("kdf", as: KDFVectors.self)

@Suite("KeyDerivation")
struct KeyDerivationTests {
    @Test("matches an independent implementation of the documented construction",
          arguments: kdfVectors?.vectors ?? [])
    func knownAnswer(_ vector: KDFVector) throws {
        let fixture = try #require(kdfVectors)
        let master = try secret(hex(fixture.master))
        let subkey = try KeyDerivation.subkey(from: master, purpose: vector.purpose, length: vector.length)
        #expect(subkey.withUnsafeBytes { Array($0) } == (try hex(vector.subkey)))
    }

    @Test("purposes are separated; the same purpose is deterministic")
    func separation() throws {
        let master = try SecureBytes.random(count: 32)
        let purposes = ["chunk-id", "data", "config", "manifest"]
        let keys = try purposes.map { purpose in
            try KeyDerivation.subkey(from: master, purpose: purpose).withUnsafeBytes { Array($0) }
        }
        #expect(Set(keys).count == purposes.count)
        let again = try KeyDerivation.subkey(from: master, purpose: "data").withUnsafeBytes { Array($0) }
        #expect(again == keys[1])
        let otherMaster = try SecureBytes.random(count: 32)
        #expect(try KeyDerivation.subkey(from: otherMaster, purpose: "data").withUnsafeBytes { Array($0) } != keys[1])
    }

    @Test("invalid purposes and lengths are errors", arguments: ["", "Data", "data\u{0}x", "with space", String(repeating: "a", count: 65)])
    func invalidPurpose(_ purpose: String) throws {
        let master = try SecureBytes.random(count: 32)
        let error = #expect(throws: CryptoError.self) { _ = try KeyDerivation.subkey(from: master, purpose: purpose) }
        #expect(error?.code == .cryptoKdfPurpose)
    }

    @Test("lengths outside 16…64 are refused")
    func invalidLength() throws {
        let master = try SecureBytes.random(count: 32)
        #expect(throws: CryptoError.self) { _ = try KeyDerivation.subkey(from: master, purpose: "data", length: 8) }
        #expect(throws: CryptoError.self) { _ = try KeyDerivation.subkey(from: master, purpose: "data", length: 65) }
    }
}

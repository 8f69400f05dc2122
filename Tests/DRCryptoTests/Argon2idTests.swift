import DRBase
@testable import DRCrypto
import Foundation
import Testing

// RFC 9106's Argon2id test vector (section 5.3) uses a secret value K, associated data X and
// four lanes; libsodium's crypto_pwhash takes none of them (one lane, no secret, no
// associated data), so it cannot be checked here. Instead:
//  - libsodium's own known answers for crypto_pwhash/ALG_ARGON2ID13 go through
//    `Argon2id.deriveKey` exactly as drctl calls it (16-byte salts);
//  - the Argon2 reference implementation's Argon2id v1.3 vectors (src/test.c: "password" /
//    "somesalt", t=2, m=2^16 KiB, p=1 → 09316115…) use an 8-byte salt, which crypto_pwhash
//    cannot take (its salt is always 16 bytes), so they are checked through libsodium's
//    verifier of the PHC string, which runs the same Argon2id core with the string's salt.

struct Argon2LibsodiumVector: Decodable, Sendable, CustomTestStringConvertible {
    let name, password, salt, output: String
    let opsLimit: UInt64
    let memLimit: UInt64
    var testDescription: String { name }
}

struct Argon2ReferenceVector: Decodable, Sendable, CustomTestStringConvertible {
    let name, password, salt, output, encoded: String
    let t, mLog2, p: Int
    var testDescription: String { name }
}

struct Argon2Vectors: Decodable, Sendable {
    let libsodium: [Argon2LibsodiumVector]
    let reference: [Argon2ReferenceVector]
}

let argon2Vectors = try? loadVectors("argon2id", as: Argon2Vectors.self)

@Suite("Argon2id")
struct Argon2idTests {
    @Test("the fixture is loaded, including the 09316115… reference vector")
    func fixtureLoaded() throws {
        let vectors = try #require(argon2Vectors)
        #expect(vectors.libsodium.count >= 2)
        #expect(vectors.reference.contains {
            $0.t == 2 && $0.mLog2 == 16 && $0.p == 1 && $0.password == "password"
                && $0.output == "09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7"
        })
    }

    @Test("libsodium known answers through deriveKey", arguments: argon2Vectors?.libsodium ?? [])
    func libsodiumKnownAnswer(_ vector: Argon2LibsodiumVector) throws {
        let password = try secret(hex(vector.password))
        let expected = try hex(vector.output)
        let parameters = Argon2idParameters(opsLimit: vector.opsLimit, memLimit: vector.memLimit,
                                            salt: try hex(vector.salt))
        let key = try Argon2id.deriveKey(password: password, parameters: parameters, outputLength: expected.count)
        #expect(key.withUnsafeBytes { Array($0) } == expected)
    }

    // The 256 MiB vector (m=2^18) is left out to keep the suite fast and light.
    @Test("Argon2 reference implementation answers (PHC strings, via libsodium's verifier)",
          arguments: (argon2Vectors?.reference ?? []).filter { $0.mLog2 <= 16 })
    func referenceKnownAnswer(_ vector: Argon2ReferenceVector) throws {
        // The hash in the PHC string is the published hex output.
        let hashPart = try #require(vector.encoded.split(separator: "$").last)
        #expect(Base64.decode(hashPart) == (try hex(vector.output)))
        #expect(vector.encoded.contains("m=\(1 << vector.mLog2),t=\(vector.t),p=\(vector.p)"))
        let password = try secret(Array(vector.password.utf8))
        let verified = Argon2id.verifyEncoded(vector.encoded, password: password)
        #expect(verified)
        let wrong = try secret(Array((vector.password + "!").utf8))
        let verifiedWrong = Argon2id.verifyEncoded(vector.encoded, password: wrong)
        #expect(!verifiedWrong)
    }

    @Test("parameters: random 16-byte salts, JSON round trip with a base64 salt")
    func parameters() throws {
        let a = Argon2idParameters.generate(opsLimit: 2, memLimit: 64 * 1024 * 1024)
        let b = Argon2idParameters.generate(opsLimit: 2, memLimit: 64 * 1024 * 1024)
        #expect(a.salt.count == 16)
        #expect(a.salt != b.salt)
        #expect(a.algorithm == "argon2id13")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        let json = try encoder.encode(a)
        let text = String(decoding: json, as: UTF8.self)
        #expect(text.contains("\"salt\":\"\(Base64.encode(a.salt))\""))
        #expect(text.contains("\"algorithm\":\"argon2id13\""))
        #expect(try JSONDecoder().decode(Argon2idParameters.self, from: json) == a)
    }

    @Test("unusable parameters are refused with crypto.kdf-parameters")
    func badParameters() throws {
        let password = try SecureBytes.random(count: 12)
        let cases = [
            Argon2idParameters(opsLimit: 2, memLimit: 1 << 20, salt: Array("somesalt".utf8)),
            Argon2idParameters(opsLimit: 0, memLimit: 1 << 20, salt: [UInt8](repeating: 1, count: 16)),
            Argon2idParameters(opsLimit: 2, memLimit: 1024, salt: [UInt8](repeating: 1, count: 16)),
            Argon2idParameters(opsLimit: 2, memLimit: 1 << 20, salt: [UInt8](repeating: 1, count: 16), algorithm: "argon2i13"),
        ]
        for parameters in cases {
            let error = #expect(throws: CryptoError.self) { _ = try Argon2id.deriveKey(password: password, parameters: parameters) }
            #expect(error?.code == .cryptoKdfParameters)
        }
    }

    @Test("a memory cost the machine cannot provide is a clear out-of-memory error")
    func outOfMemory() throws {
        let password = try SecureBytes.random(count: 12)
        // libsodium's largest accepted memLimit on 64-bit (about 4 TiB): far beyond any test machine.
        let parameters = Argon2idParameters(opsLimit: 1, memLimit: 4_398_046_510_080,
                                            salt: [UInt8](repeating: 7, count: 16))
        let error = #expect(throws: CryptoError.self) { _ = try Argon2id.deriveKey(password: password, parameters: parameters) }
        #expect(error?.code == .cryptoKdfOutOfMemory)
        #expect(error?.message.contains("MiB") == true)
    }

    @Test("the same password and parameters give the same key; another salt another key")
    func deterministic() throws {
        let password = try secret(Array("correct horse".utf8))
        let p1 = Argon2idParameters.generate(opsLimit: 1, memLimit: 8 * 1024 * 1024)
        let p2 = Argon2idParameters.generate(opsLimit: 1, memLimit: 8 * 1024 * 1024)
        let k1 = try Argon2id.deriveKey(password: password, parameters: p1)
        let k1again = try Argon2id.deriveKey(password: password, parameters: p1)
        let k2 = try Argon2id.deriveKey(password: password, parameters: p2)
        #expect(k1.count == 32)
        let same = k1.constantTimeEquals(k1again)
        let different = k1.constantTimeEquals(k2)
        #expect(same)
        #expect(!different)
    }
}

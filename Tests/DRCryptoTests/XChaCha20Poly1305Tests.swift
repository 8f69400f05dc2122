import DRBase
@testable import DRCrypto
import Testing

struct AEADVector: Decodable {
    let key, nonce, associatedData, plaintext, ciphertext, tag: String
}

@Suite("XChaCha20-Poly1305")
struct XChaCha20Poly1305Tests {
    let vector: AEADVector

    init() throws { vector = try loadVectors("xchacha20poly1305") }

    func key() throws -> SecureBytes { try secret(hex(vector.key)) }

    @Test("draft-irtf-cfrg-xchacha-03 A.3.1: explicit nonce gives the published ciphertext and tag")
    func knownAnswer() throws {
        let key = try key()
        let sealed = try XChaCha20Poly1305.seal(try hex(vector.plaintext), key: key, nonce: try hex(vector.nonce),
                                                associatedData: try hex(vector.associatedData))
        #expect(sealed == (try hex(vector.nonce) + hex(vector.ciphertext) + hex(vector.tag)))
    }

    @Test("draft-irtf-cfrg-xchacha-03 A.3.1: the published message opens to the plaintext")
    func knownAnswerOpen() throws {
        let key = try key()
        let sealed = try hex(vector.nonce) + hex(vector.ciphertext) + hex(vector.tag)
        let opened = try XChaCha20Poly1305.open(sealed, key: key, associatedData: try hex(vector.associatedData))
        #expect(opened == (try hex(vector.plaintext)))
        #expect(String(decoding: opened, as: UTF8.self).hasPrefix("Ladies and Gentlemen"))
        // As a secret: straight into secure memory.
        let secret = try XChaCha20Poly1305.openSecret(sealed, key: key, associatedData: try hex(vector.associatedData))
        #expect(secret.withUnsafeBytes { Array($0) } == (try hex(vector.plaintext)))
    }

    @Test("round trip with a random nonce; two seals of one message differ")
    func roundTrip() throws {
        let key = try SecureBytes.random(count: 32)
        for length in [0, 1, 63, 64, 65, 4096, 65536] {
            let message = SecureRandom.bytes(length)
            let ad = Array("chunk-id".utf8)
            let a = try XChaCha20Poly1305.seal(message, key: key, associatedData: ad)
            let b = try XChaCha20Poly1305.seal(message, key: key, associatedData: ad)
            #expect(a.count == length + XChaCha20Poly1305.overhead)
            #expect(a != b)
            #expect(a.prefix(24) != b.prefix(24))
            #expect(try XChaCha20Poly1305.open(a, key: key, associatedData: ad) == message)
            #expect(try XChaCha20Poly1305.open(b, key: key, associatedData: ad) == message)
        }
    }

    @Test("flipping any bit of nonce, ciphertext or tag is an authentication failure")
    func tamperSealed() throws {
        let key = try SecureBytes.random(count: 32)
        let ad = Array("index/0001".utf8)
        let sealed = try XChaCha20Poly1305.seal(Array("mailbox page".utf8), key: key, associatedData: ad)
        #expect(try XChaCha20Poly1305.open(sealed, key: key, associatedData: ad) == Array("mailbox page".utf8))
        for index in sealed.indices {
            for bit in [0, 7] {
                var damaged = sealed
                damaged[index] ^= UInt8(1 << bit)
                let error = #expect(throws: CryptoError.self) {
                    _ = try XChaCha20Poly1305.open(damaged, key: key, associatedData: ad)
                }
                #expect(error?.code == .cryptoAuthenticationFailed)
                #expect(error?.exitStatus == .dataError)
            }
        }
    }

    @Test("changing the associated data, or the key, is an authentication failure")
    func tamperContext() throws {
        let key = try SecureBytes.random(count: 32)
        let ad = Array("chunk 3f9c".utf8)
        let sealed = try XChaCha20Poly1305.seal(Array("data".utf8), key: key, associatedData: ad)
        for index in ad.indices {
            var other = ad
            other[index] ^= 0x01
            let error = #expect(throws: CryptoError.self) { _ = try XChaCha20Poly1305.open(sealed, key: key, associatedData: other) }
            #expect(error?.code == .cryptoAuthenticationFailed)
        }
        #expect(throws: CryptoError.self) { _ = try XChaCha20Poly1305.open(sealed, key: key, associatedData: []) }
        #expect(throws: CryptoError.self) { _ = try XChaCha20Poly1305.open(sealed, key: key, associatedData: ad + [0]) }
        let otherKey = try SecureBytes.random(count: 32)
        let error = #expect(throws: CryptoError.self) { _ = try XChaCha20Poly1305.openSecret(sealed, key: otherKey, associatedData: ad) }
        #expect(error?.code == .cryptoAuthenticationFailed)
    }

    @Test("truncated input and wrong key or nonce lengths are clear errors")
    func malformed() throws {
        let key = try SecureBytes.random(count: 32)
        let sealed = try XChaCha20Poly1305.seal([1, 2, 3], key: key, associatedData: [])
        let error = #expect(throws: CryptoError.self) { _ = try XChaCha20Poly1305.open(Array(sealed.prefix(39)), key: key, associatedData: []) }
        #expect(error?.code == .cryptoTruncated)
        #expect(throws: CryptoError.self) { _ = try XChaCha20Poly1305.open(Array(sealed.dropLast()), key: key, associatedData: []) }
        let shortKey = try SecureBytes.random(count: 16)
        let keyError = #expect(throws: CryptoError.self) { _ = try XChaCha20Poly1305.seal([1], key: shortKey, associatedData: []) }
        #expect(keyError?.code == .cryptoInvalidLength)
        #expect(throws: CryptoError.self) { _ = try XChaCha20Poly1305.seal([1], key: key, nonce: [0, 1, 2], associatedData: []) }
    }

    @Test("opening into a caller's buffer, or in place over the ciphertext, gives the plaintext; a damaged message leaves no plaintext")
    func openInto() throws {
        let key = try SecureBytes.random(count: 32)
        let ad = Array("DRB1 blob".utf8)
        for length in [0, 1, 4096, 65536 + 3] {
            let message = SecureRandom.bytes(length)
            let sealed = try XChaCha20Poly1305.seal(message, key: key, associatedData: ad)
            // Into a separate buffer.
            var out = [UInt8](repeating: 0xEE, count: length)
            try sealed.withUnsafeBytes { raw in
                try ad.withUnsafeBytes { adRaw in
                    try out.withUnsafeMutableBytes { try XChaCha20Poly1305.open(raw, into: $0, key: key, associatedData: adRaw) }
                }
            }
            let same = out == message
            #expect(same)
            // In place: the plaintext lands where the ciphertext was.
            var buffer = sealed
            try buffer.withUnsafeMutableBytes { raw in
                try ad.withUnsafeBytes { adRaw in
                    let ciphertext = UnsafeMutableRawBufferPointer(rebasing: raw[XChaCha20Poly1305.nonceLength..<(raw.count - XChaCha20Poly1305.tagLength)])
                    try XChaCha20Poly1305.open(UnsafeRawBufferPointer(raw), into: ciphertext, key: key, associatedData: adRaw)
                }
            }
            let inPlace = Array(buffer[XChaCha20Poly1305.nonceLength..<(buffer.count - XChaCha20Poly1305.tagLength)]) == message
            #expect(inPlace)
            // A flipped tag bit: an authentication failure, and the buffer untouched.
            var damaged = sealed
            damaged[damaged.count - 1] ^= 0x01
            var untouched = [UInt8](repeating: 0xEE, count: length)
            let error = #expect(throws: CryptoError.self) {
                try damaged.withUnsafeBytes { raw in
                    try ad.withUnsafeBytes { adRaw in
                        try untouched.withUnsafeMutableBytes { try XChaCha20Poly1305.open(raw, into: $0, key: key, associatedData: adRaw) }
                    }
                }
            }
            #expect(error?.code == .cryptoAuthenticationFailed)
            // No unauthenticated plaintext comes out: libsodium zeroes the buffer on failure.
            let clean = untouched.allSatisfy { $0 == 0 } || untouched.allSatisfy { $0 == 0xEE }
            #expect(clean, "a failed open left bytes in the buffer")
            // A buffer of the wrong length is refused before anything is decrypted.
            var wrong = [UInt8](repeating: 0, count: length + 1)
            let lengthError = #expect(throws: CryptoError.self) {
                try sealed.withUnsafeBytes { raw in
                    try ad.withUnsafeBytes { adRaw in
                        try wrong.withUnsafeMutableBytes { try XChaCha20Poly1305.open(raw, into: $0, key: key, associatedData: adRaw) }
                    }
                }
            }
            #expect(lengthError?.code == .cryptoInvalidLength)
        }
        // Shorter than nonce and tag: truncated, as `open` says.
        var out: [UInt8] = []
        let truncated = #expect(throws: CryptoError.self) {
            try [UInt8](repeating: 1, count: 39).withUnsafeBytes { raw in
                try out.withUnsafeMutableBytes { try XChaCha20Poly1305.open(raw, into: $0, key: key, associatedData: UnsafeRawBufferPointer(start: nil, count: 0)) }
            }
        }
        #expect(truncated?.code == .cryptoTruncated)
    }

    @Test("a wrapped key unwraps into secure memory, equal to the original")
    func wrapKey() throws {
        let kek = try SecureBytes.random(count: 32)
        let master = try SecureBytes.random(count: 32)
        let wrapped = try XChaCha20Poly1305.seal(secret: master, key: kek, associatedData: Array("keys/1".utf8))
        let unwrapped = try XChaCha20Poly1305.openSecret(wrapped, key: kek, associatedData: Array("keys/1".utf8))
        let same = unwrapped.constantTimeEquals(master)
        #expect(same)
        let other = try SecureBytes.random(count: 32)
        let different = unwrapped.constantTimeEquals(other)
        #expect(!different)
    }
}

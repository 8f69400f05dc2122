internal import CSodium
import DRBase

/// AEAD_XChaCha20_Poly1305 (draft-irtf-cfrg-xchacha-03): the cipher for every object drctl
/// stores.
///
/// The 24-byte nonce is random for each message, which is safe for practically unlimited
/// messages under one key (unlike 12-byte nonces), so no nonce state has to be kept or
/// coordinated between hosts writing to one repository.
///
/// Sealed format: `nonce (24) ‖ ciphertext (same length as the plaintext) ‖ tag (16)`.
package enum XChaCha20Poly1305 {
    package static let keyLength = 32
    package static let nonceLength = 24
    package static let tagLength = 16
    /// Bytes a sealed message has beyond its plaintext.
    package static let overhead = nonceLength + tagLength

    /// Encrypts and authenticates `plaintext` and `associatedData` under a fresh random nonce.
    /// - Returns: nonce ‖ ciphertext ‖ tag.
    package static func seal(_ plaintext: UnsafeRawBufferPointer, key: borrowing SecureBytes,
                            associatedData: [UInt8]) throws(CryptoError) -> [UInt8] {
        try Sodium.ready()
        return try ThreadRandomBatch.withBytes(nonceLength) { (nonce) throws(CryptoError) in
            try sealWithNonce(plaintext, key: key, nonce: nonce, associatedData: associatedData)
        }
    }

    /// Encrypts and authenticates `plaintext` and `associatedData` under a fresh random nonce.
    /// - Returns: nonce ‖ ciphertext ‖ tag.
    package static func seal(_ plaintext: [UInt8], key: borrowing SecureBytes,
                            associatedData: [UInt8]) throws(CryptoError) -> [UInt8] {
        try plaintext.withBytes { (raw) throws(CryptoError) in
            try seal(raw, key: key, associatedData: associatedData)
        }
    }

    /// Encrypts a secret (a key being wrapped) without it passing through `[UInt8]`.
    package static func seal(secret: borrowing SecureBytes, key: borrowing SecureBytes,
                            associatedData: [UInt8]) throws(CryptoError) -> [UInt8] {
        try secret.withUnsafeBytes { (raw) throws(CryptoError) in
            try seal(raw, key: key, associatedData: associatedData)
        }
    }

    /// Encrypts with a caller-chosen nonce: only for known-answer tests and interoperability
    /// checks. Reusing a nonce under one key reveals the XOR of the plaintexts and allows
    /// forgeries; production code uses `seal(_:key:associatedData:)`.
    /// - Returns: nonce ‖ ciphertext ‖ tag.
    package static func seal(_ plaintext: [UInt8], key: borrowing SecureBytes, nonce: [UInt8],
                            associatedData: [UInt8]) throws(CryptoError) -> [UInt8] {
        try plaintext.withBytes { (raw) throws(CryptoError) in
            try nonce.withBytes { (nonceRaw) throws(CryptoError) in
                try sealWithNonce(raw, key: key, nonce: nonceRaw, associatedData: associatedData)
            }
        }
    }

    /// Verifies and decrypts nonce ‖ ciphertext ‖ tag.
    /// - Throws: `crypto.authentication-failed` (exit status 65) when anything was altered or the
    ///   key or associated data differ; `crypto.truncated` when it is shorter than
    ///   nonce plus tag.
    package static func open(_ sealed: [UInt8], key: borrowing SecureBytes,
                            associatedData: [UInt8]) throws(CryptoError) -> [UInt8] {
        try sealed.withBytes { (raw) throws(CryptoError) in
            try open(raw, key: key, associatedData: associatedData)
        }
    }

    /// Verifies and decrypts nonce ‖ ciphertext ‖ tag.
    package static func open(_ sealed: UnsafeRawBufferPointer, key: borrowing SecureBytes,
                            associatedData: [UInt8]) throws(CryptoError) -> [UInt8] {
        let length = try plaintextLength(sealed, key: key)
        var failed = false
        let plaintext = [UInt8](unsafeUninitializedCapacity: length) { buffer, initialised in
            failed = decrypt(into: UnsafeMutableRawBufferPointer(buffer), sealed: sealed, key: key,
                             associatedData: associatedData) != 0
            initialised = failed ? 0 : length
        }
        if failed { throw CryptoError.authenticationFailed("an encrypted object") }
        return plaintext
    }

    /// Verifies and decrypts nonce ‖ ciphertext ‖ tag into `out`, which must hold exactly the
    /// plaintext (`sealed.count - overhead` bytes), with no array allocated: restore and
    /// `check --read-data` open every blob into a reader's reused buffer. `out` may be the
    /// ciphertext's own bytes (`sealed` from byte `nonceLength` on: decryption in place), as
    /// libsodium allows. No unauthenticated plaintext is ever written: libsodium checks the tag
    /// before it decrypts, and zeroes `out` when the check fails.
    /// - Throws: as `open(_:key:associatedData:)`; `crypto.invalid-length` when `out` is not
    ///   the plaintext's length.
    package static func open(_ sealed: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer,
                            key: borrowing SecureBytes, associatedData: UnsafeRawBufferPointer) throws(CryptoError) {
        let length = try plaintextLength(sealed, key: key)
        guard out.count == length else {
            throw CryptoError.invalidLength("the plaintext buffer of an encrypted object", expected: "\(length)",
                                            actual: out.count)
        }
        if decrypt(into: out, sealed: sealed, key: key, associatedData: associatedData) != 0 {
            throw CryptoError.authenticationFailed("an encrypted object")
        }
    }

    /// Verifies and decrypts a sealed secret (a wrapped master key) directly into secure
    /// memory, so the plaintext never exists in ordinary memory.
    package static func openSecret(_ sealed: [UInt8], key: borrowing SecureBytes,
                                  associatedData: [UInt8]) throws(CryptoError) -> SecureBytes {
        let length = try sealed.withBytes { (raw) throws(CryptoError) in try plaintextLength(raw, key: key) }
        var secret = try SecureBytes(count: length)
        let status = secret.withUnsafeMutableBytes { out in
            sealed.withUnsafeBytes { raw in
                decrypt(into: out, sealed: raw, key: key, associatedData: associatedData)
            }
        }
        if status != 0 { throw CryptoError.authenticationFailed("an encrypted key") }
        return secret
    }

    // MARK: - Implementation

    private static func checkKey(_ key: borrowing SecureBytes) throws(CryptoError) {
        guard key.count == keyLength else {
            throw CryptoError.invalidLength("an XChaCha20-Poly1305 key", expected: "\(keyLength)",
                                            actual: key.count)
        }
    }

    private static func sealWithNonce(_ plaintext: UnsafeRawBufferPointer, key: borrowing SecureBytes,
                                      nonce: UnsafeRawBufferPointer, associatedData: [UInt8]) throws(CryptoError) -> [UInt8] {
        try Sodium.ready()
        try checkKey(key)
        guard nonce.count == nonceLength else {
            throw CryptoError.invalidLength("an XChaCha20-Poly1305 nonce", expected: "\(nonceLength)",
                                            actual: nonce.count)
        }
        let total = nonceLength + plaintext.count + tagLength
        var status: Int32 = -1
        let sealed = key.withUnsafeBytes { keyRaw in
            [UInt8](unsafeUninitializedCapacity: total) { buffer, initialised in
                let out = UnsafeMutableRawBufferPointer(buffer)
                out.copyMemory(from: nonce)
                var written: UInt64 = 0
                status = associatedData.withUnsafeBytes { ad in
                    crypto_aead_xchacha20poly1305_ietf_encrypt(
                        buffer.baseAddress! + nonceLength, &written,
                        plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self),
                        UInt64(plaintext.count),
                        ad.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(ad.count),
                        nil, buffer.baseAddress!,
                        keyRaw.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
                initialised = status == 0 ? total : 0
            }
        }
        guard status == 0 else {
            throw CryptoError(.cryptoEncrypt, message: "encryption failed (message of \(plaintext.count) bytes is too long for XChaCha20-Poly1305)")
        }
        return sealed
    }

    private static func plaintextLength(_ sealed: UnsafeRawBufferPointer,
                                        key: borrowing SecureBytes) throws(CryptoError) -> Int {
        try Sodium.ready()
        try checkKey(key)
        guard sealed.count >= nonceLength + tagLength else {
            throw CryptoError(.cryptoTruncated, message: "an encrypted object is \(sealed.count) bytes long, shorter than the \(nonceLength + tagLength) bytes of nonce and tag: it was truncated. Run `drctl check`, or try another copy of it.")
        }
        return sealed.count - nonceLength - tagLength
    }

    /// Returns libsodium's status (0 = authentic). Nothing but zeroes is written unless authentic.
    private static func decrypt(into out: UnsafeMutableRawBufferPointer, sealed: UnsafeRawBufferPointer,
                                key: borrowing SecureBytes, associatedData: [UInt8]) -> Int32 {
        associatedData.withUnsafeBytes { ad in decrypt(into: out, sealed: sealed, key: key, associatedData: ad) }
    }

    private static func decrypt(into out: UnsafeMutableRawBufferPointer, sealed: UnsafeRawBufferPointer,
                                key: borrowing SecureBytes, associatedData: UnsafeRawBufferPointer) -> Int32 {
        let base = sealed.baseAddress!.assumingMemoryBound(to: UInt8.self)
        return key.withUnsafeBytes { keyRaw in
            var written: UInt64 = 0
            return crypto_aead_xchacha20poly1305_ietf_decrypt(
                out.baseAddress?.assumingMemoryBound(to: UInt8.self), &written, nil,
                base + nonceLength, UInt64(sealed.count - nonceLength),
                associatedData.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(associatedData.count),
                base, keyRaw.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
    }
}

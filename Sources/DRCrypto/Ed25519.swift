internal import CSodium
import DRBase
#if canImport(Glibc)
import Glibc
#endif

/// An Ed25519 (RFC 8032) signing key, for drill reports an auditor can verify.
///
/// The 32-byte seed (the RFC's "private key") and libsodium's expanded secret key stay in
/// secure memory; only the public key is ordinary bytes.
package struct Ed25519SigningKey: ~Copyable, Sendable {
    package static let seedLength = 32
    package static let publicKeyLength = 32
    package static let signatureLength = 64

    /// libsodium's secret key: seed ‖ public key (64 bytes).
    private let secretKey: SecureBytes
    package let publicKey: [UInt8]

    /// A new random key.
    package static func generate() throws(CryptoError) -> Ed25519SigningKey {
        let seed = try SecureBytes.random(count: seedLength)
        return try Ed25519SigningKey(seed: seed)
    }

    /// The key determined by a 32-byte seed (RFC 8032's private key).
    package init(seed: borrowing SecureBytes) throws(CryptoError) {
        try Sodium.ready()
        guard seed.count == Self.seedLength else {
            throw CryptoError.invalidLength("an Ed25519 seed", expected: "\(Self.seedLength)", actual: seed.count)
        }
        var secretKey = try SecureBytes(count: Int(crypto_sign_secretkeybytes()))
        var publicKey = [UInt8](repeating: 0, count: Self.publicKeyLength)
        let status = secretKey.withUnsafeMutableBytes { sk in
            seed.withUnsafeBytes { seedRaw in
                crypto_sign_seed_keypair(&publicKey, sk.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                         seedRaw.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        guard status == 0 else {
            throw CryptoError(.cryptoSigningKey, message: "cannot derive the Ed25519 key pair from its seed")
        }
        self.secretKey = secretKey
        self.publicKey = publicKey
    }

    /// A 64-byte detached signature of `message` (deterministic, as RFC 8032 specifies).
    package func sign(_ message: [UInt8]) -> [UInt8] {
        secretKey.withUnsafeBytes { sk in
            [UInt8](unsafeUninitializedCapacity: Self.signatureLength) { out, initialised in
                // crypto_sign_detached has no failure path for a well-formed secret key.
                let status = crypto_sign_detached(out.baseAddress!, nil, message, UInt64(message.count),
                                                  sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
                precondition(status == 0, "crypto_sign_detached failed")
                initialised = Self.signatureLength
            }
        }
    }

    /// The 32-byte seed, in secure memory.
    package func seed() throws(CryptoError) -> SecureBytes {
        try secretKey.prefix(Self.seedLength)
    }

    /// Writes the raw 32-byte seed to a new file of mode 0600. Refuses to overwrite.
    package func writeSeed(toFile path: String) throws(CryptoError) {
        try seed().writeNewSecretFile(path: path, purpose: "signing key file")
    }

    /// Loads a key from a seed file written by `writeSeed(toFile:)` (checked to be mode 0600).
    package static func load(seedFile path: String) throws -> Ed25519SigningKey {
        let seed = try SecureBytes.readSecretFile(path: path, purpose: "signing key file",
                                                  trimTrailingNewline: false)
        guard seed.count == seedLength else {
            throw CryptoError(.cryptoKeyFileInvalid, message: "signing key file \(path) holds \(seed.count) bytes, but an Ed25519 seed is exactly \(seedLength): it is not a drctl signing key")
        }
        return try Ed25519SigningKey(seed: seed)
    }
}

/// Ed25519 signature verification.
package enum Ed25519 {
    /// True when `signature` is a valid signature of `message` under `publicKey`; false for
    /// any malformed input.
    package static func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard signature.count == Ed25519SigningKey.signatureLength,
              publicKey.count == Ed25519SigningKey.publicKeyLength else { return false }
        Sodium.require()
        return crypto_sign_verify_detached(signature, message, UInt64(message.count), publicKey) == 0
    }
}

internal import CSodium
import DRBase
#if canImport(Glibc)
import Glibc
#endif

/// The cost and salt of one Argon2id derivation, stored next to what it protects (a wrapped
/// key) so that the same passphrase derives the same key later.
///
/// Encoded as `{"algorithm":"argon2id13","opsLimit":3,"memLimit":268435456,"salt":"<base64>"}`.
package struct Argon2idParameters: Codable, Sendable, Equatable {
    /// The only algorithm: Argon2id, version 1.3 (0x13), one lane, as libsodium computes it.
    package static let algorithmName = "argon2id13"
    package static let saltLength = 16
    /// libsodium's "moderate" cost: about a second and 256 MiB on a current server core.
    package static let defaultOpsLimit: UInt64 = 3
    package static let defaultMemLimit: UInt64 = 256 * 1024 * 1024
    /// The most a stored key may ask for: the ceiling `[repository] argon2_iterations` and
    /// `argon2_memory` allow (64 passes, 16 GiB). Key objects are read from targets that other
    /// hosts (and whoever holds the S3 credentials) can write, so the repository layer refuses
    /// a planted key asking for 2³²−1 passes over 4 TiB before any memory is touched
    /// (`isWithinDrctlLimits`); `Argon2id` itself takes whatever libsodium takes.
    package static let maximumOpsLimit: UInt64 = 64
    package static let maximumMemLimit: UInt64 = 16 << 30
    /// Whether these are parameters drctl could have written.
    package var isWithinDrctlLimits: Bool {
        opsLimit <= Self.maximumOpsLimit && memLimit <= Self.maximumMemLimit
    }
    /// Relative cost, to try cheap wrappings before expensive ones.
    package var cost: UInt64 { opsLimit.multipliedReportingOverflow(by: memLimit / 1024).partialValue }

    /// Passes over memory (Argon2's t).
    package var opsLimit: UInt64
    /// Memory in bytes (Argon2's m is this divided by 1024).
    package var memLimit: UInt64
    package var salt: [UInt8]
    package var algorithm: String

    package init(opsLimit: UInt64, memLimit: UInt64, salt: [UInt8],
                algorithm: String = Argon2idParameters.algorithmName) {
        self.opsLimit = opsLimit
        self.memLimit = memLimit
        self.salt = salt
        self.algorithm = algorithm
    }

    /// New parameters with a random 16-byte salt.
    package static func generate(opsLimit: UInt64 = defaultOpsLimit,
                                memLimit: UInt64 = defaultMemLimit) -> Argon2idParameters {
        Argon2idParameters(opsLimit: opsLimit, memLimit: memLimit,
                           salt: SecureRandom.bytes(saltLength))
    }

    private enum CodingKeys: String, CodingKey {
        case algorithm, opsLimit, memLimit, salt
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        algorithm = try container.decode(String.self, forKey: .algorithm)
        opsLimit = try container.decode(UInt64.self, forKey: .opsLimit)
        memLimit = try container.decode(UInt64.self, forKey: .memLimit)
        let text = try container.decode(String.self, forKey: .salt)
        guard let salt = Base64.decode(text) else {
            throw DecodingError.dataCorruptedError(forKey: .salt, in: container,
                                                   debugDescription: "salt is not valid base64")
        }
        self.salt = salt
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(algorithm, forKey: .algorithm)
        try container.encode(opsLimit, forKey: .opsLimit)
        try container.encode(memLimit, forKey: .memLimit)
        try container.encode(Base64.encode(salt), forKey: .salt)
    }
}

/// Argon2id (RFC 9106) password hashing, to turn a passphrase into a key-encryption key.
package enum Argon2id {
    /// Derives `outputLength` bytes from `password` straight into secure memory.
    /// - Throws: `crypto.kdf-parameters` for parameters libsodium does not accept (they come
    ///   from a stored key file: a damaged or foreign file); `crypto.kdf-out-of-memory` when
    ///   the memory cost cannot be allocated.
    package static func deriveKey(password: borrowing SecureBytes, parameters: Argon2idParameters,
                                 outputLength: Int = 32) throws(CryptoError) -> SecureBytes {
        try Sodium.ready()
        try validate(parameters, outputLength: outputLength)
        var key = try SecureBytes(count: outputLength)
        let status: Int32 = key.withUnsafeMutableBytes { out in
            password.withUnsafeBytes { pw in
                parameters.salt.withUnsafeBytes { salt in
                    errno = 0
                    return crypto_pwhash(
                        out.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(outputLength),
                        pw.baseAddress!.assumingMemoryBound(to: CChar.self), UInt64(pw.count),
                        salt.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        parameters.opsLimit, Int(parameters.memLimit),
                        crypto_pwhash_ALG_ARGON2ID13)
                }
            }
        }
        if status != 0 {
            let err = errno
            if err == ENOMEM {
                throw CryptoError(
                    .cryptoKdfOutOfMemory, message: "Argon2id needs \(parameters.memLimit / (1024 * 1024)) MiB of memory for this key and the system could not provide it: free memory, or raise the memory limit (MemoryMax= in the systemd unit, ulimit -v) and retry")
            }
            throw CryptoError(.cryptoKdf, message: "Argon2id key derivation failed (\(errnoDescription(err)))")
        }
        return key
    }

    /// Checks a PHC-format Argon2id string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) against a
    /// password, with libsodium. Unlike `deriveKey`, the salt may be of any length libsodium's
    /// decoder accepts, which makes the reference implementation's test vectors usable.
    static func verifyEncoded(_ encoded: String, password: borrowing SecureBytes) -> Bool {
        Sodium.require()
        return password.withUnsafeBytes { pw in
            crypto_pwhash_argon2id_str_verify(encoded, pw.baseAddress!.assumingMemoryBound(to: CChar.self),
                                              UInt64(pw.count)) == 0
        }
    }

    private static func validate(_ p: Argon2idParameters, outputLength: Int) throws(CryptoError) {
        func bad(_ what: String) -> CryptoError {
            CryptoError(.cryptoKdfParameters, message: "the Argon2id parameters of this key are unusable (\(what)): the key file is damaged or was not written by drctl")
        }
        guard p.algorithm == Argon2idParameters.algorithmName else {
            throw bad("algorithm \"\(p.algorithm)\", expected \"\(Argon2idParameters.algorithmName)\"")
        }
        guard p.salt.count == Argon2idParameters.saltLength else {
            throw bad("salt of \(p.salt.count) bytes, expected \(Argon2idParameters.saltLength)")
        }
        guard p.opsLimit >= UInt64(crypto_pwhash_argon2id_opslimit_min()),
              p.opsLimit <= UInt64(crypto_pwhash_argon2id_opslimit_max()) else {
            throw bad("opsLimit \(p.opsLimit)")
        }
        guard p.memLimit >= UInt64(crypto_pwhash_argon2id_memlimit_min()),
              p.memLimit <= UInt64(crypto_pwhash_argon2id_memlimit_max()) else {
            throw bad("memLimit \(p.memLimit) bytes")
        }
        guard outputLength >= crypto_pwhash_argon2id_bytes_min(),
              UInt64(outputLength) <= UInt64(crypto_pwhash_argon2id_bytes_max()) else {
            throw CryptoError.invalidLength("an Argon2id output", expected: "at least 16", actual: outputLength)
        }
    }
}

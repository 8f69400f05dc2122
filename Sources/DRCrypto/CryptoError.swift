package import DRBase

/// Every failure of the crypto layer.
///
/// Codes are stable (`crypto.authentication-failed`, …) and documented; messages say what
/// failed and what to do, and never contain key material, plaintext or passphrases.
package enum CryptoDomain: ErrorDomain {}
package typealias CryptoError = DomainError<CryptoDomain>

extension CryptoError {
    /// An AEAD tag did not verify: the data was altered, truncated, or sealed under another
    /// key or with other associated data.
    static func authenticationFailed(_ what: String) -> CryptoError {
        CryptoError(.cryptoAuthenticationFailed, message: "\(what) failed authentication: it was modified or damaged, or it was encrypted with a different key. Run `drctl check` on the repository, or try another copy of it.")
    }

    static func invalidLength(_ what: String, expected: String, actual: Int) -> CryptoError {
        CryptoError(.cryptoInvalidLength, message: "\(what) must be \(expected) bytes long, but it is \(actual) bytes")
    }

    static func outOfSecureMemory(_ count: Int) -> CryptoError {
        CryptoError(.cryptoSecureMemory, message: "cannot allocate \(count) bytes of locked memory for key material: raise the locked-memory limit (ulimit -l, or LimitMEMLOCK= in the systemd unit)")
    }

    static let libraryUnavailable = CryptoError(
        .cryptoInit, message: "libsodium could not be initialised (is /dev/urandom readable?)")
}

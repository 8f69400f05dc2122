internal import DRLibcrypto
import DRBase

/// SHA-256 (FIPS 180-4), computed by OpenSSL's libcrypto (DRLibcrypto's `MessageDigest`).
///
/// drctl's own content addresses use BLAKE2b; SHA-256 is here for the protocols that
/// prescribe it: AWS Signature Version 4 hashes the canonical request and the payload
/// (`x-amz-content-sha256`) with it. Every uploaded byte goes through it, and libcrypto's uses
/// the CPU's SHA extensions where it has them: ~5x libsodium 1.0.18's portable C on this
/// project's machines (docs/PROFILES.md, branch sha256ni). Digests are not secret, so they are
/// plain arrays.
package enum SHA256 {
    /// Digest length in bytes.
    package static let digestLength = 32

    /// The digest of `data`.
    package static func hash(_ data: UnsafeRawBufferPointer) -> [UInt8] {
        MessageDigest.digest(.sha256, of: data)
    }

    /// The digest of `data`.
    package static func hash(_ data: [UInt8]) -> [UInt8] {
        data.withUnsafeBytes { hash($0) }
    }

    /// The digest of the UTF-8 bytes of `text` (canonical requests are text).
    package static func hash(utf8 text: String) -> [UInt8] {
        hash(Array(text.utf8))
    }

    /// The lower-case hexadecimal digest of `data`, the form SigV4 puts into headers.
    package static func hexDigest(_ data: [UInt8]) -> String {
        Hex.encode(hash(data))
    }

    /// The lower-case hexadecimal digest of the UTF-8 bytes of `text`.
    package static func hexDigest(utf8 text: String) -> String {
        Hex.encode(hash(utf8: text))
    }
}

/// Incremental SHA-256 for payloads that arrive in pieces (a pack streamed from disk).
///
/// The state is not secret (it is the hash of data that is sent in the clear to the
/// server anyway), so it lives in ordinary memory; it is still non-copyable so that a
/// half-fed state is never duplicated by accident.
package struct SHA256Hasher: ~Copyable {
    private var digest = MessageDigest(.sha256)

    package init() {}

    /// Adds `data` to the hash.
    package mutating func update(_ data: UnsafeRawBufferPointer) {
        digest.update(data)
    }

    /// Adds `data` to the hash.
    package mutating func update(_ data: [UInt8]) {
        data.withUnsafeBytes { update($0) }
    }

    /// The digest of everything added.
    package consuming func finalize() -> [UInt8] {
        digest.finalize()
    }
}

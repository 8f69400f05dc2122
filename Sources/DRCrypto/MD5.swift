internal import DRLibcrypto
import DRBase

/// MD5 (RFC 1321), for S3 only: `Content-MD5` on uploads (S3 requires it, or a newer checksum
/// header that older servers lack, when an object is written under Object Lock) and the
/// comparison of a returned ETag with what was sent.
///
/// MD5 is broken for collision resistance and never authenticates anything here: the
/// repository's objects are authenticated by their AEAD tags and content addresses. It only
/// catches damage in transit and a server that stored other bytes than it was sent.
///
/// Computed by OpenSSL's libcrypto (DRLibcrypto, already there for SHA-256): its assembly MD5
/// ran at ~760 MB/s here against ~600 MB/s for the Swift one in `PortableMD5` (every uploaded
/// byte is hashed; docs/PROFILES.md, branch sha256ni). libsodium has no MD5. Where libcrypto
/// refuses MD5 (a FIPS-only configuration), the Swift one computes it.
package enum MD5 {
    /// Decided once per process: whether libcrypto serves MD5 here.
    private static let fromLibcrypto = MessageDigest.isAvailable(.md5)

    package static func hash(_ data: [UInt8]) -> [UInt8] {
        data.withUnsafeBytes { hash($0) }
    }

    package static func hash(_ data: ArraySlice<UInt8>) -> [UInt8] {
        data.withUnsafeBytes { hash($0) }
    }

    package static func hash(_ data: UnsafeRawBufferPointer) -> [UInt8] {
        fromLibcrypto ? MessageDigest.digest(.md5, of: data) : PortableMD5.hash(data)
    }

    package static func hexDigest(_ data: [UInt8]) -> String { Hex.encode(hash(data)) }

    /// Base64 of the digest, as `Content-MD5` carries it.
    package static func base64Digest(_ data: ArraySlice<UInt8>) -> String { Base64.encode(hash(data)) }
}

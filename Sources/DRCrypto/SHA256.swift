internal import CSodium
import DRBase

/// SHA-256 (FIPS 180-4) via libsodium's `crypto_hash_sha256`.
///
/// drctl's own content addresses use BLAKE2b; SHA-256 is here for the protocols that
/// prescribe it: AWS Signature Version 4 hashes the canonical request and the payload
/// (`x-amz-content-sha256`) with it. Digests are not secret, so they are plain arrays.
package enum SHA256 {
    /// Digest length in bytes.
    package static let digestLength = 32

    /// The digest of `data`.
    package static func hash(_ data: UnsafeRawBufferPointer) -> [UInt8] {
        Sodium.require()
        return [UInt8](unsafeUninitializedCapacity: digestLength) { out, initialised in
            let status = crypto_hash_sha256(out.baseAddress!,
                                            data.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                            UInt64(data.count))
            // libsodium's SHA-256 has no failure path; a non-zero status is a broken library.
            precondition(status == 0, "crypto_hash_sha256 failed")
            initialised = digestLength
        }
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
    /// A `crypto_hash_sha256_state`, kept untyped so that no C type appears in this
    /// declaration (nothing above DRCrypto sees a C type).
    private let state: UnsafeMutableRawPointer

    package init() {
        Sodium.require()
        state = UnsafeMutableRawPointer.allocate(byteCount: crypto_hash_sha256_statebytes(),
                                                 alignment: MemoryLayout<UInt64>.alignment)
        let status = crypto_hash_sha256_init(Self.typed(state))
        precondition(status == 0, "crypto_hash_sha256_init failed")
    }

    deinit {
        state.deallocate()
    }

    /// Adds `data` to the hash.
    package mutating func update(_ data: UnsafeRawBufferPointer) {
        let status = crypto_hash_sha256_update(Self.typed(state),
                                               data.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                               UInt64(data.count))
        precondition(status == 0, "crypto_hash_sha256_update failed")
    }

    /// Adds `data` to the hash.
    package mutating func update(_ data: [UInt8]) {
        data.withUnsafeBytes { update($0) }
    }

    /// The digest of everything added.
    package consuming func finalize() -> [UInt8] {
        let pointer = Self.typed(state)
        return [UInt8](unsafeUninitializedCapacity: SHA256.digestLength) { out, initialised in
            let status = crypto_hash_sha256_final(pointer, out.baseAddress!)
            precondition(status == 0, "crypto_hash_sha256_final failed")
            initialised = SHA256.digestLength
        }
    }

    private static func typed(_ raw: UnsafeMutableRawPointer) -> UnsafeMutablePointer<crypto_hash_sha256_state> {
        raw.assumingMemoryBound(to: crypto_hash_sha256_state.self)
    }
}

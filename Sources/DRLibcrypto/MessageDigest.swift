internal import CCrypto

/// A message digest computed by OpenSSL's libcrypto, which picks the fastest code for the CPU
/// at run time: on x86-64 with the SHA extensions (SHA-NI) its SHA-256 runs at ~1,800 MB/s,
/// against ~350 MB/s for libsodium 1.0.18's portable C, and its assembly MD5 at ~760 MB/s
/// against ~600 MB/s for drctl's Swift MD5 (docs/PROFILES.md, branch sha256ni). Every byte
/// drctl uploads to S3 is hashed with both (the SigV4 signature and `Content-MD5`), so they are
/// a large share of a backup's CPU over S3.
///
/// Digests are not secret (S3 requests carry them in headers), so the context lives in
/// OpenSSL's ordinary memory. Non-copyable so that a half-fed state is never duplicated.
package struct MessageDigest: ~Copyable {
    package enum Algorithm: Sendable {
        case sha256
        case md5

        /// Digest length in bytes.
        package var length: Int {
            switch self {
            case .sha256: 32
            case .md5: 16
            }
        }

        /// The implementation, fetched from the providers once per process; nil when the
        /// configuration refuses it (MD5 where only FIPS-approved algorithms are allowed).
        fileprivate var method: OpaquePointer? {
            switch self {
            case .sha256: fetchedSHA256
            case .md5: fetchedMD5
            }
        }
    }

    /// Whether libcrypto serves `algorithm` here. SHA-256 always does (it is FIPS-approved,
    /// and libcurl's TLS needs it); MD5 not under a FIPS-only configuration, where callers use
    /// a portable implementation of their own.
    package static func isAvailable(_ algorithm: Algorithm) -> Bool {
        algorithm.method != nil
    }

    private let algorithm: Algorithm
    /// An `EVP_MD_CTX`.
    private let context: OpaquePointer

    /// A digest of nothing yet. `algorithm` must be available (`isAvailable`).
    package init(_ algorithm: Algorithm) {
        guard let method = algorithm.method else {
            preconditionFailure("OpenSSL's libcrypto refuses \(algorithm) (EVP_MD_fetch failed): check the OpenSSL installation and OPENSSL_CONF")
        }
        // Allocation failure is the only way these fail for a fetched method.
        guard let context = EVP_MD_CTX_new() else { preconditionFailure("EVP_MD_CTX_new failed: out of memory") }
        precondition(EVP_DigestInit_ex2(context, method, nil) == 1, "EVP_DigestInit_ex2 failed")
        self.algorithm = algorithm
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds `data` to the digest.
    package mutating func update(_ data: UnsafeRawBufferPointer) {
        guard let base = data.baseAddress, !data.isEmpty else { return }
        precondition(EVP_DigestUpdate(context, base, data.count) == 1, "EVP_DigestUpdate failed")
    }

    /// Writes the digest of everything added into `out` (exactly `algorithm.length` bytes).
    package consuming func finalize(into out: UnsafeMutableRawBufferPointer) {
        finish(into: out)
    }

    /// The digest of everything added.
    package consuming func finalize() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: algorithm.length) { out, initialised in
            finish(into: UnsafeMutableRawBufferPointer(out))
            initialised = algorithm.length
        }
    }

    /// The final step; the context is spent after it and freed with the value.
    private func finish(into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count == algorithm.length, "a \(out.count)-byte buffer for a \(algorithm.length)-byte digest")
        var written: UInt32 = 0
        let status = EVP_DigestFinal_ex(context, out.baseAddress!.assumingMemoryBound(to: UInt8.self), &written)
        precondition(status == 1 && Int(written) == algorithm.length, "EVP_DigestFinal_ex failed")
    }

    /// The digest of `data`.
    package static func digest(_ algorithm: Algorithm, of data: UnsafeRawBufferPointer) -> [UInt8] {
        var digest = MessageDigest(algorithm)
        digest.update(data)
        return digest.finalize()
    }
}

// `EVP_MD_fetch` once, not `EVP_sha256()` at each use: in OpenSSL 3 a legacy `EVP_sha256()`
// handed to `EVP_DigestInit_ex` is fetched from the provider store again at every init (a
// locked look-up per request signed). A fetched method is immutable and may be shared by
// threads; it is kept for the life of the process. Globals are initialised once, on first use.
nonisolated(unsafe) private let fetchedSHA256 = fetch("SHA256")
nonisolated(unsafe) private let fetchedMD5 = fetch("MD5")

private func fetch(_ name: String) -> OpaquePointer? {
    guard let method = EVP_MD_fetch(nil, name, nil) else {
        // The failed fetch left its reasons on this thread's OpenSSL error queue, where a
        // later TLS call of libcurl's on the same thread could mistake them for its own.
        ERR_clear_error()
        return nil
    }
    return method
}

internal import CSodium
import DRBase

/// HMAC-SHA-256 (RFC 2104, FIPS 198-1) via libsodium's `crypto_auth_hmacsha256_*`.
///
/// The `_init`/`_update`/`_final` functions are used rather than `crypto_auth_hmacsha256`,
/// whose key is fixed at 32 bytes: HMAC allows any key length (a longer key is hashed
/// first, RFC 2104 §3), and SigV4's first key, "AWS4" + secret access key, is 44 bytes.
///
/// Keys are `SecureBytes`: in SigV4 every key of the derivation chain is as good as the
/// secret access key for a day. The derived keys can be written straight into secure
/// memory with `deriveKey`; a MAC that is sent over the wire (a signature) comes back as a
/// plain array.
package enum HMACSHA256 {
    /// Output length in bytes.
    package static let macLength = 32

    /// The MAC of `message` under `key`.
    package static func authenticate(_ message: UnsafeRawBufferPointer,
                                     key: borrowing SecureBytes) throws(CryptoError) -> [UInt8] {
        var hmac = try HMACSHA256Hasher(key: key)
        hmac.update(message)
        return hmac.finalize()
    }

    /// The MAC of `message` under `key`.
    package static func authenticate(_ message: [UInt8], key: borrowing SecureBytes) throws(CryptoError) -> [UInt8] {
        try message.withBytes { (raw) throws(CryptoError) in try authenticate(raw, key: key) }
    }

    /// The MAC of `message` under `key`, written into secure memory: for a MAC that is
    /// itself a key (SigV4's date, region, service and signing keys).
    package static func deriveKey(_ message: [UInt8], key: borrowing SecureBytes) throws(CryptoError) -> SecureBytes {
        var hmac = try HMACSHA256Hasher(key: key)
        message.withUnsafeBytes { hmac.update($0) }
        var out = try SecureBytes(count: macLength)
        // Final state into a local first: a non-copyable value cannot be consumed inside a closure.
        let finished = hmac
        out.withUnsafeMutableBytes { raw in finished.finalizeCopy(into: raw) }
        return out
    }
}

/// Incremental HMAC-SHA-256. The state holds the key's inner and outer pads, so it is
/// key-equivalent: it lives in secure memory and is wiped with the hasher.
package struct HMACSHA256Hasher: ~Copyable {
    private var state: SecureBytes

    /// A hasher keyed with `key` (any length, an empty key included).
    package init(key: borrowing SecureBytes) throws(CryptoError) {
        try Sodium.ready()
        let state = try SecureBytes(count: crypto_auth_hmacsha256_statebytes())
        // The state holds two SHA-256 states (UInt64 counters); sodium_malloc's blocks are
        // aligned at least that much.
        precondition(Int(bitPattern: state.unsafePointer) % MemoryLayout<UInt64>.alignment == 0,
                     "HMAC-SHA-256 state misaligned")
        let pointer = Self.typed(state)
        let status = key.withUnsafeBytes { keyRaw in
            // SecureBytes always has an allocation, so even an empty key has a base address.
            crypto_auth_hmacsha256_init(pointer, keyRaw.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                        keyRaw.count)
        }
        guard status == 0 else { throw CryptoError(.cryptoHash, message: "HMAC-SHA-256 init failed") }
        self.state = state
    }

    /// Adds `data` to the MAC.
    package mutating func update(_ data: UnsafeRawBufferPointer) {
        let status = crypto_auth_hmacsha256_update(Self.typed(state),
                                                   data.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                                   UInt64(data.count))
        precondition(status == 0, "crypto_auth_hmacsha256_update failed")
    }

    /// Adds `data` to the MAC.
    package mutating func update(_ data: [UInt8]) {
        data.withUnsafeBytes { update($0) }
    }

    /// The MAC; the state is wiped with the hasher.
    package consuming func finalize() -> [UInt8] {
        let pointer = Self.typed(state)
        return [UInt8](unsafeUninitializedCapacity: HMACSHA256.macLength) { out, initialised in
            let status = crypto_auth_hmacsha256_final(pointer, out.baseAddress!)
            precondition(status == 0, "crypto_auth_hmacsha256_final failed")
            initialised = HMACSHA256.macLength
        }
    }

    /// Writes the MAC into `out` (exactly `HMACSHA256.macLength` bytes, e.g. secure memory).
    package consuming func finalize(into out: UnsafeMutableRawBufferPointer) {
        finalizeCopy(into: out)
    }

    /// `finalize(into:)` without consuming (libsodium's final step leaves the state spent;
    /// the hasher is wiped when its owner drops it).
    fileprivate func finalizeCopy(into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count == HMACSHA256.macLength, "MAC buffer of \(out.count) bytes for a 32-byte MAC")
        let status = crypto_auth_hmacsha256_final(Self.typed(state),
                                                  out.baseAddress!.assumingMemoryBound(to: UInt8.self))
        precondition(status == 0, "crypto_auth_hmacsha256_final failed")
    }

    private static func typed(_ state: borrowing SecureBytes) -> UnsafeMutablePointer<crypto_auth_hmacsha256_state> {
        state.unsafePointer.assumingMemoryBound(to: crypto_auth_hmacsha256_state.self)
    }
}

import DRBase

/// Subkeys of the repository master key, one per purpose, so that no key is used for two
/// things (chunk ids, data encryption, config, manifests, …).
package enum KeyDerivation {
    /// The domain-separation label; part of the repository format, never to be changed.
    package static let label = "drctl-subkey-v1"

    /// Derives the subkey for `purpose`.
    ///
    /// Construction (enough to reimplement it elsewhere):
    ///
    ///     subkey = BLAKE2b(key = master, digest_size = length,
    ///                      message = ASCII("drctl-subkey-v1") ‖ 0x00 ‖ ASCII(purpose))
    ///
    /// BLAKE2b as in RFC 7693 in keyed mode (the master key is BLAKE2b's key, 16…64 bytes;
    /// drctl's is 32), no salt, no personalisation; `digest_size` is the requested length
    /// (16…64), which BLAKE2b mixes into its parameter block, so a 32-byte and a 64-byte
    /// subkey for one purpose are unrelated. `purpose` is 1…64 characters from `a–z 0–9 - .`;
    /// with the 0x00 separator, distinct purposes give distinct messages. In Python:
    /// `hashlib.blake2b(b"drctl-subkey-v1\x00" + purpose.encode(), key=master, digest_size=length)`.
    ///
    /// Purposes in use: `chunk-id`, `data`, `config`, `manifest`.
    package static func subkey(from master: borrowing SecureBytes, purpose: String,
                              length: Int = 32) throws(CryptoError) -> SecureBytes {
        let purposeBytes = Array(purpose.utf8)
        let allowed = purposeBytes.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
        }
        guard allowed, (1...64).contains(purposeBytes.count) else {
            throw CryptoError(.cryptoKdfPurpose, message: "invalid subkey purpose \"\(purpose)\": use 1 to 64 characters from a-z, 0-9, '-' and '.'")
        }
        let message = Array(label.utf8) + [0] + purposeBytes
        var hasher = try Blake2bHasher(key: master, outputLength: length)
        hasher.update(message)
        // Finalise straight into secure memory: the subkey never exists as [UInt8].
        let subkey = try SecureBytes(count: length)
        hasher.finalize(into: UnsafeMutableRawBufferPointer(start: subkey.unsafePointer, count: length))
        return subkey
    }
}

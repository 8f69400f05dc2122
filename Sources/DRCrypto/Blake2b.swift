internal import CSodium
import DRBase

/// BLAKE2b (RFC 7693), unkeyed and keyed, via libsodium's `crypto_generichash`.
///
/// Keyed BLAKE2b-256 names chunks (the chunk id), so that the repository's ids reveal
/// nothing about content to someone without the key.
package enum Blake2b {
    /// Output lengths libsodium accepts (RFC 7693 allows 1…64; libsodium requires ≥ 16).
    package static let outputLengths = 16...64
    /// Key lengths libsodium accepts for keyed hashing.
    package static let keyLengths = 16...64

    /// Unkeyed BLAKE2b of `data`.
    /// - Precondition: `outputLength` is in `outputLengths` (a programming error otherwise).
    package static func hash(_ data: UnsafeRawBufferPointer, outputLength: Int = 32) -> [UInt8] {
        precondition(outputLengths.contains(outputLength), "BLAKE2b output length \(outputLength) outside 16…64")
        Sodium.require()
        return [UInt8](unsafeUninitializedCapacity: outputLength) { out, initialised in
            let status = crypto_generichash(out.baseAddress!, outputLength,
                                            data.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                            UInt64(data.count), nil, 0)
            // Fails only for lengths checked above.
            precondition(status == 0, "crypto_generichash failed")
            initialised = outputLength
        }
    }

    /// Unkeyed BLAKE2b of `data`.
    package static func hash(_ data: [UInt8], outputLength: Int = 32) -> [UInt8] {
        data.withUnsafeBytes { hash($0, outputLength: outputLength) }
    }

    /// Keyed BLAKE2b (a MAC / PRF) of `data`.
    /// - Throws: `crypto.invalid-length` if the key is not 16…64 bytes or the output length
    ///   is not 16…64.
    package static func hash(_ data: UnsafeRawBufferPointer, key: borrowing SecureBytes,
                            outputLength: Int = 32) throws(CryptoError) -> [UInt8] {
        try Sodium.ready()
        try check(keyLength: key.count, outputLength: outputLength)
        return key.withUnsafeBytes { keyRaw in
            [UInt8](unsafeUninitializedCapacity: outputLength) { out, initialised in
                let status = crypto_generichash(out.baseAddress!, outputLength,
                                                data.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                                UInt64(data.count),
                                                keyRaw.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                                keyRaw.count)
                precondition(status == 0, "crypto_generichash failed")
                initialised = outputLength
            }
        }
    }

    /// Keyed BLAKE2b of `data` into `out` (16…64 bytes, its length the output length), with
    /// no array allocated: the chunk id of every page goes through here.
    /// - Precondition: `key` is 16…64 bytes and `out` 16…64 bytes (fixed by the caller).
    package static func hash(_ data: UnsafeRawBufferPointer, key: borrowing SecureBytes,
                            into out: UnsafeMutableRawBufferPointer) {
        Sodium.require()
        precondition(keyLengths.contains(key.count) && outputLengths.contains(out.count),
                     "keyed BLAKE2b: key of \(key.count) bytes, output of \(out.count)")
        let status = key.withUnsafeBytes { keyRaw in
            crypto_generichash(out.baseAddress!.assumingMemoryBound(to: UInt8.self), out.count,
                               data.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(data.count),
                               keyRaw.baseAddress!.assumingMemoryBound(to: UInt8.self), keyRaw.count)
        }
        precondition(status == 0, "crypto_generichash failed")
    }

    /// Keyed BLAKE2b (a MAC / PRF) of `data`.
    package static func hash(_ data: [UInt8], key: borrowing SecureBytes,
                            outputLength: Int = 32) throws(CryptoError) -> [UInt8] {
        try data.withBytes { (raw) throws(CryptoError) in
            try hash(raw, key: key, outputLength: outputLength)
        }
    }

    static func check(keyLength: Int?, outputLength: Int) throws(CryptoError) {
        guard outputLengths.contains(outputLength) else {
            throw CryptoError.invalidLength("a BLAKE2b output", expected: "16 to 64", actual: outputLength)
        }
        if let keyLength, !keyLengths.contains(keyLength) {
            throw CryptoError.invalidLength("a BLAKE2b key", expected: "16 to 64", actual: keyLength)
        }
    }
}

/// Incremental BLAKE2b for data that arrives in pieces (whole files, streams).
///
/// The state lives in secure memory and is wiped when the hasher is finalised or dropped:
/// with a key, the state is key-equivalent.
package struct Blake2bHasher: ~Copyable {
    private var state: SecureBytes
    package let outputLength: Int

    /// An unkeyed hasher.
    package init(outputLength: Int = 32) throws(CryptoError) {
        try Blake2b.check(keyLength: nil, outputLength: outputLength)
        let state = try Self.allocateState()
        let status = crypto_generichash_init(Self.typed(state), nil, 0, outputLength)
        guard status == 0 else { throw Self.failure("init") }
        self.state = state
        self.outputLength = outputLength
    }

    /// A keyed hasher (MAC / PRF).
    package init(key: borrowing SecureBytes, outputLength: Int = 32) throws(CryptoError) {
        try Blake2b.check(keyLength: key.count, outputLength: outputLength)
        let state = try Self.allocateState()
        let pointer = Self.typed(state)
        let status = key.withUnsafeBytes { keyRaw in
            crypto_generichash_init(pointer, keyRaw.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                    keyRaw.count, outputLength)
        }
        guard status == 0 else { throw Self.failure("init") }
        self.state = state
        self.outputLength = outputLength
    }

    /// Adds `data` to the hash.
    package mutating func update(_ data: UnsafeRawBufferPointer) {
        let status = crypto_generichash_update(Self.typed(state),
                                               data.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                               UInt64(data.count))
        precondition(status == 0, "crypto_generichash_update failed")
    }

    /// Adds `data` to the hash.
    package mutating func update(_ data: [UInt8]) {
        data.withUnsafeBytes { update($0) }
    }

    /// The digest; the state is wiped with the hasher.
    package consuming func finalize() -> [UInt8] {
        let pointer = Self.typed(state)
        let length = outputLength
        return [UInt8](unsafeUninitializedCapacity: length) { out, initialised in
            let status = crypto_generichash_final(pointer, out.baseAddress!, length)
            precondition(status == 0, "crypto_generichash_final failed")
            initialised = length
        }
    }

    /// Writes the digest into `out` (exactly `outputLength` bytes, e.g. secure memory).
    package consuming func finalize(into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count == outputLength, "digest buffer of \(out.count) bytes for a \(outputLength)-byte digest")
        let status = crypto_generichash_final(Self.typed(state),
                                              out.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                              outputLength)
        precondition(status == 0, "crypto_generichash_final failed")
    }

    private static func allocateState() throws(CryptoError) -> SecureBytes {
        try Sodium.ready()
        // sodium_malloc puts the block at the end of a page; the state size (a multiple of
        // 64) keeps it at the 64-byte alignment the state type requires.
        let state = try SecureBytes(count: crypto_generichash_statebytes())
        precondition(Int(bitPattern: state.unsafePointer) % 64 == 0, "BLAKE2b state misaligned")
        return state
    }

    /// The state type is 64-byte aligned in C, which Swift imports as an opaque pointer.
    private static func typed(_ state: borrowing SecureBytes) -> OpaquePointer {
        OpaquePointer(state.unsafePointer)
    }

    private static func failure(_ step: String) -> CryptoError {
        CryptoError(.cryptoHash, message: "BLAKE2b \(step) failed")
    }
}

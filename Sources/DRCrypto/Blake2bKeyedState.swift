internal import CSodium
import DRBase

/// Keyed BLAKE2b for many short messages under one key, with the key block compressed once.
///
/// Keyed BLAKE2b hashes the key, padded to a 128-byte block, before the message: for a message
/// of up to 128 bytes that is two compressions, one of them the same for every message. This
/// keeps the state after the key block (in secure memory: it is key-equivalent) and starts each
/// hash from a copy of it, so a short message costs one compression. The digests are exactly
/// `Blake2b.hash(data, key:, into:)`'s.
///
/// libsodium compresses lazily (its `update` keeps the last block buffered until more data or
/// `final` arrives), so its public API never yields a state with the key block compressed and an
/// empty buffer. The state is therefore made by feeding one block more than the key (which
/// compresses the key block) and then marking the buffer empty, in libsodium's state layout
/// (`blake2b_state`: h[8], t[2], f[2], buf[256], buflen, last_node). That layout is libsodium's
/// own, so `init` checks it: the buffer length must read as expected, and digests of messages
/// of several lengths must equal the one-shot function's. If either check fails (another
/// libsodium), every hash takes the one-shot path, which gives the same bytes, only slower.
///
/// Not thread-safe (one scratch state per instance): one instance per stream.
package struct Blake2bKeyedState: ~Copyable {
    /// The state after the key block, buffer empty (or, with `precomputed` false, unused).
    private let initial: SecureBytes
    /// Where each hash runs: a copy of `initial`, wiped by libsodium's `final`.
    private let scratch: SecureBytes
    /// The key, for the one-shot path when the layout check failed.
    private let key: SecureBytes
    package let outputLength: Int
    /// Whether `initial` holds the precomputed state (the layout check passed).
    package let precomputed: Bool

    /// libsodium 1.0.x's `blake2b_state`: the byte offset of `buflen` and of the counter t[0].
    private static let bufferLengthOffset = 352
    private static let counterOffset = 64

    /// - Throws: `crypto.invalid-length` if the key or the output length is not 16…64 bytes;
    ///   out of secure memory.
    package init(key: borrowing SecureBytes, outputLength: Int = 32) throws(CryptoError) {
        try self.init(key: key, outputLength: outputLength, precompute: true)
    }

    /// `precompute: false` takes the one-shot path for every hash (what a failed layout check
    /// leads to), so that tests can compare both paths.
    init(key: borrowing SecureBytes, outputLength: Int, precompute: Bool) throws(CryptoError) {
        try Blake2b.check(keyLength: key.count, outputLength: outputLength)
        let stateBytes = crypto_generichash_statebytes()
        let initial = try SecureBytes(count: stateBytes)
        let scratch = try SecureBytes(count: stateBytes)
        let keyCopy = try key.copy()
        precondition(Int(bitPattern: initial.unsafePointer) % 64 == 0 && Int(bitPattern: scratch.unsafePointer) % 64 == 0,
                     "BLAKE2b state misaligned")
        let raw = initial.unsafePointer
        let status = key.withUnsafeBytes { keyRaw in
            crypto_generichash_init(OpaquePointer(raw), keyRaw.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                    keyRaw.count, outputLength)
        }
        guard status == 0 else { throw CryptoError(.cryptoHash, message: "BLAKE2b init failed") }
        // One block and one byte more than the buffered key block: libsodium compresses the key
        // block and keeps 129 bytes buffered, which are then dropped by marking the buffer empty.
        let filler = [UInt8](repeating: 0, count: 129)
        _ = filler.withUnsafeBufferPointer { crypto_generichash_update(OpaquePointer(raw), $0.baseAddress, 129) }
        var usable = precompute && stateBytes >= Self.bufferLengthOffset + 16
            && raw.load(fromByteOffset: Self.bufferLengthOffset, as: Int.self) == 129
            && raw.load(fromByteOffset: Self.counterOffset, as: UInt64.self) == 128
        if usable {
            raw.storeBytes(of: 0, toByteOffset: Self.bufferLengthOffset, as: Int.self)
            usable = Self.selfCheck(initial: raw, scratch: scratch.unsafePointer, stateBytes: stateBytes,
                                    key: keyCopy, outputLength: outputLength)
        }
        if !usable { sodium_memzero(raw, stateBytes) }
        self.initial = initial
        self.scratch = scratch
        self.key = keyCopy
        self.outputLength = outputLength
        self.precomputed = usable
    }

    /// Keyed BLAKE2b of `data` into `out` (`outputLength` bytes).
    package func hash(_ data: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer) {
        // An empty message is the one case where the key block is itself the last block (with
        // the final-block flag), which the precomputed state cannot give: one-shot for it.
        if precomputed && !data.isEmpty {
            Self.hash(data, initial: initial.unsafePointer, scratch: scratch.unsafePointer, stateBytes: initial.count,
                      into: out, outputLength: outputLength)
        } else {
            Blake2b.hash(data, key: key, into: UnsafeMutableRawBufferPointer(start: out, count: outputLength))
        }
    }

    private static func hash(_ data: UnsafeRawBufferPointer, initial: UnsafeMutableRawPointer, scratch: UnsafeMutableRawPointer,
                             stateBytes: Int, into out: UnsafeMutableRawPointer, outputLength: Int) {
        scratch.copyMemory(from: initial, byteCount: stateBytes)
        let state = OpaquePointer(scratch)
        // Neither call fails for a state made by init and an output length checked there.
        _ = crypto_generichash_update(state, data.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(data.count))
        let status = crypto_generichash_final(state, out.assumingMemoryBound(to: UInt8.self), outputLength)
        precondition(status == 0, "crypto_generichash_final failed")
    }

    /// Digests of messages on both sides of the block edges equal the one-shot function's.
    private static func selfCheck(initial: UnsafeMutableRawPointer, scratch: UnsafeMutableRawPointer, stateBytes: Int,
                                  key: borrowing SecureBytes, outputLength: Int) -> Bool {
        let message = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        return message.withUnsafeBytes { all in
            withUnsafeTemporaryAllocation(byteCount: 2 * outputLength, alignment: 8) { buffer in
                let fast = buffer.baseAddress!
                let slow = UnsafeMutableRawBufferPointer(rebasing: buffer[outputLength...])
                for length in [1, 7, 48, 127, 128, 129, 255, 256, 257, 300] {
                    let data = UnsafeRawBufferPointer(rebasing: all[0..<length])
                    hash(data, initial: initial, scratch: scratch, stateBytes: stateBytes, into: fast, outputLength: outputLength)
                    Blake2b.hash(data, key: key, into: slow)
                    if !(0..<outputLength).allSatisfy({ fast.load(fromByteOffset: $0, as: UInt8.self) == slow[$0] }) {
                        return false
                    }
                }
                return true
            }
        }
    }
}

/// One scratch state per instance: hashing from two threads at once would mix their states.
@available(*, unavailable)
extension Blake2bKeyedState: Sendable {}

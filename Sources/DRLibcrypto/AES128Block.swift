internal import CCrypto

/// AES-128 on single 16-byte blocks (ECB, no padding) under one key, the key schedule kept in
/// one EVP context (expanding it per block would cost more than the block): the block function
/// of the IP pseudonyms (DRIPPseudonym; libsodium 1.0.18 has no raw AES).
package final class AES128Block {
    private let context: OpaquePointer

    /// - Parameter key: 16 bytes, read in place (a caller's locked memory), never copied here.
    package init?(key: UnsafeRawBufferPointer) {
        guard key.count == 16, let bytes = key.baseAddress?.assumingMemoryBound(to: UInt8.self),
              let context = EVP_CIPHER_CTX_new() else { return nil }
        let ready = EVP_EncryptInit_ex(context, EVP_aes_128_ecb(), nil, bytes, nil) == 1
            && EVP_CIPHER_CTX_set_padding(context, 0) == 1
        guard ready else {
            EVP_CIPHER_CTX_free(context)
            return nil
        }
        self.context = context
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// AES_K(block). ECB of one block keeps no state between calls, so the context is reused.
    package func encrypt(_ block: [UInt8]) -> [UInt8] {
        precondition(block.count == 16, "AES-128 encrypts 16-byte blocks")
        var value: UInt128 = 0
        for byte in block { value = value << 8 | UInt128(byte) }
        let result = encrypt(value)
        return (0..<16).map { UInt8(truncatingIfNeeded: result >> (8 * (15 - $0))) }
    }

    /// AES_K of each of `count` blocks, each a 128-bit number stored big-endian (`.bigEndian`),
    /// in one call: ECB encrypts blocks independently, so a whole address's PRF inputs go
    /// through the cipher together instead of one call per bit.
    package func encrypt(_ input: UnsafePointer<UInt128>, into output: UnsafeMutablePointer<UInt128>, count: Int) {
        var written: Int32 = 0
        let ok = input.withMemoryRebound(to: UInt8.self, capacity: 16 * count) { inputBytes in
            output.withMemoryRebound(to: UInt8.self, capacity: 16 * count) { outputBytes in
                EVP_EncryptUpdate(context, outputBytes, &written, inputBytes, Int32(16 * count)) == 1
            }
        }
        precondition(ok && written == Int32(16 * count), "AES-128-ECB of \(count) blocks failed")
    }

    /// AES_K(block) with the block as a big-endian 128-bit number (byte 0 most significant):
    /// no allocation, as the per-bit loops of the pseudonyms call this 64 to 256 times an address.
    package func encrypt(_ block: UInt128) -> UInt128 {
        var input = block.bigEndian
        var output: (UInt128, UInt128) = (0, 0)
        var written: Int32 = 0
        let ok = withUnsafeBytes(of: &input) { inputRaw in
            withUnsafeMutableBytes(of: &output) { outputRaw in
                EVP_EncryptUpdate(context, outputRaw.baseAddress!.assumingMemoryBound(to: UInt8.self), &written,
                                  inputRaw.baseAddress!.assumingMemoryBound(to: UInt8.self), 16) == 1
            }
        }
        precondition(ok && written == 16, "AES-128-ECB of one block failed")
        return UInt128(bigEndian: output.0)
    }
}

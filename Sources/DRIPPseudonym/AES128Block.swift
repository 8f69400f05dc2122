import CCrypto
import DRBase

/// AES-128 on single 16-byte blocks (ECB, no padding) under one key, the key schedule kept in
/// one EVP context (expanding it per block would cost more than the block). The only user of
/// libcrypto in drctl; nothing above this module sees an OpenSSL type.
final class AES128Block {
    private let context: OpaquePointer

    init?(key: [UInt8]) {
        guard key.count == 16, let context = EVP_CIPHER_CTX_new() else { return nil }
        let ready = key.withUnsafeBufferPointer { raw in
            EVP_EncryptInit_ex(context, EVP_aes_128_ecb(), nil, raw.baseAddress, nil) == 1
                && EVP_CIPHER_CTX_set_padding(context, 0) == 1
        }
        guard ready else {
            EVP_CIPHER_CTX_free(context)
            return nil
        }
        self.context = context
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// AES_K(block). ECB of one block keeps no state between calls, so the context is reused.
    func encrypt(_ block: [UInt8]) -> [UInt8] {
        precondition(block.count == 16, "AES-128 encrypts 16-byte blocks")
        var output = [UInt8](repeating: 0, count: 32)
        var written: Int32 = 0
        let ok = block.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                EVP_EncryptUpdate(context, out.baseAddress, &written, input.baseAddress, 16) == 1
            }
        }
        precondition(ok && written == 16, "AES-128-ECB of one block failed")
        return Array(output[0..<16])
    }
}

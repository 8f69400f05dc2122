import DRBase
package import DRCrypto

/// What a person or a unit supplies to open the repository: a passphrase or a key file's key.
/// Kept in secure memory from the moment it is read until it is released.
package struct UnlockSecret: ~Copyable {
    package let kind: KeyObject.Kind
    let bytes: SecureBytes
    /// Where it came from, for messages ("passphrase from /etc/drctl/repository.pass").
    package let origin: String

    package init(passphrase: consuming SecureBytes, origin: String) throws(RepositoryError) {
        if passphrase.count == 0 {
            throw RepositoryError(.repositoryEmptyPassphrase, message: "the passphrase from \(origin) is empty; an empty passphrase is refused")
        }
        self.kind = .passphrase
        self.bytes = passphrase
        self.origin = origin
    }

    /// A key file holds the key as 64 hexadecimal digits (then any number of line endings, \n or \r, which are ignored).
    package init(keyFileContents text: borrowing SecureBytes, origin: String) throws(RepositoryError) {
        self.kind = .keyFile
        self.bytes = try KeyFileFormat.decode(text, origin: origin)
        self.origin = origin
    }

    /// The key-encryption key for a key object of this secret's kind.
    func keyEncryptionKey(for object: KeyObject) throws(RepositoryError) -> SecureBytes {
        do {
            switch kind {
            case .passphrase:
                guard let parameters = object.kdf else {
                    throw RepositoryError(.repositoryCorrupt, message: "a passphrase key object lacks its kdf parameters")
                }
                guard parameters.isWithinDrctlLimits else {
                    // Refused before Argon2id allocates anything: a key object is input that
                    // anyone who can write to a target may have planted.
                    throw RepositoryError(.cryptoKdfParameters, message: "a key object asks for Argon2id with \(parameters.opsLimit) passes over \(parameters.memLimit >> 20) MiB, more than drctl ever writes (\(Argon2idParameters.maximumOpsLimit) passes, \(Argon2idParameters.maximumMemLimit >> 30) GiB): it is damaged or planted, and is not tried")
                }
                return try Argon2id.deriveKey(password: bytes, parameters: parameters)
            case .keyFile:
                return try KeyDerivation.subkey(from: bytes, purpose: "key-file-wrap")
            }
        } catch {
            throw RepositoryError(error)
        }
    }
}

/// The key file format: exactly 64 lowercase or uppercase hex digits, optionally followed by
/// line endings (any run of \n and \r, so a file saved on another system still opens).
/// Decoded straight into secure memory.
package enum KeyFileFormat {
    package static let keyLength = 32

    /// A new random key file's contents (hex + newline), in secure memory.
    package static func generate() throws(RepositoryError) -> SecureBytes {
        do {
            let key = try SecureBytes.random(count: keyLength)
            var text = try SecureBytes(count: keyLength * 2 + 1)
            let digits = Array("0123456789abcdef".utf8)
            key.withUnsafeBytes { source in
                text.withUnsafeMutableBytes { target in
                    for index in 0..<keyLength {
                        target[2 * index] = digits[Int(source[index] >> 4)]
                        target[2 * index + 1] = digits[Int(source[index] & 0x0F)]
                    }
                    target[keyLength * 2] = 0x0A
                }
            }
            return text
        } catch {
            throw RepositoryError(error)
        }
    }

    package static func decode(_ text: borrowing SecureBytes, origin: String) throws(RepositoryError) -> SecureBytes {
        var length = text.count
        text.withUnsafeBytes { raw in
            while length > 0 && (raw[length - 1] == 0x0A || raw[length - 1] == 0x0D) { length -= 1 }
        }
        guard length == keyLength * 2 else {
            throw RepositoryError(.repositoryKeyFileFormat, message: "key file \(origin) must hold exactly 64 hexadecimal digits (a 32-byte key); it holds \(length) characters. Generate one with: drctl init (embedded default) or drctl key add --new-key-file PATH")
        }
        var key: SecureBytes
        do { key = try SecureBytes(count: keyLength) } catch { throw RepositoryError(error) }
        var valid = true
        text.withUnsafeBytes { source in
            key.withUnsafeMutableBytes { target in
                for index in 0..<keyLength {
                    let high = hexValue(source[2 * index])
                    let low = hexValue(source[2 * index + 1])
                    if high < 0 || low < 0 { valid = false }
                    target[index] = UInt8(truncatingIfNeeded: (high << 4) | (low & 0x0F))
                }
            }
        }
        guard valid else {
            throw RepositoryError(.repositoryKeyFileFormat, message: "key file \(origin) holds characters other than hexadecimal digits")
        }
        return key
    }

    private static func hexValue(_ c: UInt8) -> Int {
        switch c {
        case 0x30...0x39: Int(c - 0x30)
        case 0x61...0x66: Int(c - 0x61 + 10)
        case 0x41...0x46: Int(c - 0x41 + 10)
        default: -1
        }
    }
}

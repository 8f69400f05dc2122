import DRBase
package import DRCrypto
import Foundation

/// `keys/<id>`: the repository's master key, wrapped by one key-encryption key.
///
/// Stored as JSON in clear (it holds nothing usable without the passphrase or key file).
/// The id is the lowercase hex BLAKE2b-256 of the object's bytes, so a key object is
/// content-addressed like every other object. See docs/REPOSITORY.md.
package struct KeyObject: Codable, Sendable, Equatable {
    package enum Kind: String, Codable, Sendable {
        /// The key-encryption key is Argon2id(passphrase, kdf parameters).
        case passphrase
        /// The key-encryption key is derived from a 32-byte random key kept in a file.
        case keyFile = "key-file"
    }

    package static let formatName = "drctl-key-v1"

    package var format: String
    package var kind: Kind
    package var repository: String
    /// Present for `passphrase` wrappings.
    package var kdf: Argon2idParameters?
    /// Base64 of nonce ‖ ciphertext ‖ tag of the 32-byte master key.
    package var wrappedKey: String
    package var created: String
    package var host: String
    package var user: String

    /// Associated data binding a wrapping to its repository.
    static func associatedData(repository: String) -> [UInt8] {
        Array("drctl master key for repository \(repository)".utf8)
    }

    /// Encodes the object the way it is stored (sorted keys, so the id is reproducible).
    func encoded() throws(RepositoryError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        do {
            return Array(try encoder.encode(self))
        } catch {
            throw RepositoryError(.repositoryEncode, message: "cannot encode a key object: \(error)")
        }
    }

    static func decode(_ bytes: [UInt8], name: String, target: String) throws(RepositoryError) -> KeyObject {
        do {
            let object = try JSONDecoder().decode(KeyObject.self, from: Data(bytes))
            guard object.format == formatName else {
                throw RepositoryError(.repositoryKeyFormat, message: "target \(target): \(name) has format \"\(object.format)\"; this drctl reads \"\(formatName)\" — upgrade drctl")
            }
            return object
        } catch let error as RepositoryError {
            throw error
        } catch {
            throw RepositoryError(.repositoryCorrupt, message: "target \(target): \(name) is not a valid key object: \(error)")
        }
    }
}

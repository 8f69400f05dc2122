import DRBase
import DRCrypto

/// The encrypted envelope of repository objects (config, manifests, pack headers).
///
/// Layout: `"DRC1"` (4 bytes) ‖ kind (1 byte) ‖ nonce (24) ‖ ciphertext ‖ tag (16).
/// The AEAD is XChaCha20-Poly1305 with associated data `"DRC1" ‖ kind ‖ name`: the name is
/// "config" for config and the 64-hex pack id for a pack header, so neither can be swapped
/// for another; a manifest's is empty (its content-addressed name binds it instead).
enum ObjectEnvelope {
    static let magic: [UInt8] = Array("DRC1".utf8)

    enum Kind: UInt8 {
        case config = 0x43     // "C"
        case pruneMark = 0x47  // "G": prune marks and their wait and done records
        case index = 0x49      // "I"
        case retainedLog = 0x4C // "L": retained, anonymized logs (`logs/`)
        case manifest = 0x4D   // "M"
        case packHeader = 0x50 // "P"
    }

    static func associatedData(kind: Kind, name: String) -> [UInt8] {
        magic + [kind.rawValue] + Array(name.utf8)
    }

    static func seal(_ plaintext: [UInt8], kind: Kind, name: String,
                     key: borrowing SecureBytes) throws(RepositoryError) -> [UInt8] {
        do {
            let sealed = try XChaCha20Poly1305.seal(plaintext, key: key,
                                                   associatedData: associatedData(kind: kind, name: name))
            return magic + [kind.rawValue] + sealed
        } catch {
            throw RepositoryError(error)
        }
    }

    static func open(_ bytes: [UInt8], kind: Kind, name: String, target: String,
                     key: borrowing SecureBytes) throws(RepositoryError) -> [UInt8] {
        guard bytes.count >= 5 + XChaCha20Poly1305.nonceLength + XChaCha20Poly1305.tagLength,
              Array(bytes[0..<4]) == magic, bytes[4] == kind.rawValue else {
            throw RepositoryError(.repositoryCorrupt, message: "target \(target): object \(name) is not a drctl \(kind) object (bad header); it is damaged or not part of a drctl repository")
        }
        do {
            return try XChaCha20Poly1305.open(Array(bytes[5...]), key: key,
                                              associatedData: associatedData(kind: kind, name: name))
        } catch {
            throw RepositoryError(.repositoryCorrupt, message: "target \(target): object \(name) failed authentication: it was modified or damaged (or belongs to another repository)")
        }
    }
}

import DRBase
import DRCrypto

/// The subkeys a job needs, derived once from the master key.
///
/// Each purpose has its own key so that a flaw in one use cannot be turned against another;
/// the derivation is `KeyDerivation.subkey(from:purpose:)` (docs/REPOSITORY.md).
package final class RepositoryKeys: Sendable {
    /// Keys the chunk ids (keyed BLAKE2b-256 of plaintext).
    let chunkID: SecureBytes
    /// Seals blobs (data chunks and tree nodes) inside packs.
    let data: SecureBytes
    /// Seals pack headers.
    let pack: SecureBytes
    /// Seals index objects.
    let index: SecureBytes
    /// Seals snapshot manifests.
    let manifest: SecureBytes
    /// Seals prune marks (`prune/`).
    let prune: SecureBytes

    init(master: borrowing SecureBytes) throws(RepositoryError) {
        do {
            chunkID = try KeyDerivation.subkey(from: master, purpose: "chunk-id")
            data = try KeyDerivation.subkey(from: master, purpose: "data")
            pack = try KeyDerivation.subkey(from: master, purpose: "pack")
            index = try KeyDerivation.subkey(from: master, purpose: "index")
            manifest = try KeyDerivation.subkey(from: master, purpose: "manifest")
            prune = try KeyDerivation.subkey(from: master, purpose: "prune")
        } catch {
            throw RepositoryError(error)
        }
    }

    /// The id of a chunk's plaintext.
    package func chunkID(of plaintext: UnsafeRawBufferPointer) -> ChunkID {
        // Hashed into a buffer on the stack and read as four words: no array per chunk (an id
        // is computed for every page read or restored). The id is not secret.
        withUnsafeTemporaryAllocation(byteCount: 32, alignment: 8) { digest in
            Blake2b.hash(plaintext, key: chunkID, into: digest)
            return ChunkID(bytes: UnsafeRawBufferPointer(digest))
        }
    }

    package func chunkID(of plaintext: [UInt8]) -> ChunkID {
        plaintext.withUnsafeBytes { chunkID(of: $0) }
    }
}

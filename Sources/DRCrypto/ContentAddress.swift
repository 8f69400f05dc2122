import DRBase

/// The name of stored bytes derived from the bytes themselves: lower-case hex of their
/// unkeyed BLAKE2b-256 (64 characters). Manifests and key objects are named this way, so
/// that a reader can tell a damaged or swapped object by its name alone. (Packs have random
/// ids, bound to them by their header's associated data: docs/REPOSITORY.md.)
package enum ContentAddress {
    package static func of(_ bytes: UnsafeRawBufferPointer) -> String {
        Hex.encode(Blake2b.hash(bytes, outputLength: 32))
    }

    package static func of(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { of($0) }
    }
}

import DRBase
package import DRCrypto

#if canImport(Glibc)
import Glibc
#endif

/// Creating files that hold secrets: never overwriting, mode 0600 from the first byte on,
/// written from secure memory, fsynced.
package enum SecretFiles {
    /// Creates `path` (and missing parent folders, mode 0700) holding `contents`.
    /// Fails if the file exists: a key file is never replaced behind the operator's back.
    package static func create(_ path: String, contents: borrowing SecureBytes, purpose: String) throws(CoreError) {
        do {
            try contents.writeNewSecretFile(path: path, purpose: purpose)
        } catch {
            throw CoreError(error)
        }
    }

    package static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }
}

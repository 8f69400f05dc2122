import DRBase
#if canImport(Glibc)
import Glibc
#endif

/// What `drctl config check` found about one secret file: its mode, never its contents.
package struct SecretFileStatus: Sendable, Equatable {
    package enum State: String, Sendable, Equatable {
        /// A regular file with no group or other permission bits.
        case ok
        /// Does not exist.
        case missing
        /// Readable or writable by group or others: refused (`chmod 600`).
        case modeTooOpen = "mode-too-open"
        /// A folder, device or socket.
        case notRegular = "not-regular"
        /// stat(2) failed for another reason (permission on a parent folder, I/O).
        case unreadable
    }

    package var file: SecretFile
    package var state: State
    /// Permission bits as `0600`, when the file could be looked at.
    package var mode: String?
    /// Why this state matters and what to do; nil when all is well.
    package var detail: String?

    /// Whether this state stops drctl from running with the configuration.
    ///
    /// A missing generated key is fine (`drctl init` writes it); a missing passphrase or S3
    /// credentials file is not, since nothing will create it.
    package var isProblem: Bool {
        switch state {
        case .ok: false
        case .missing: !file.createdByInit
        case .modeTooOpen, .notRegular, .unreadable: true
        }
    }

    /// Looks at the file's type and mode with stat(2) — it is never opened.
    package static func inspect(_ file: SecretFile) -> SecretFileStatus {
        var info = stat()
        let mode: String? = stat(file.path, &info) == 0
            ? "0" + String(info.st_mode & 0o777, radix: 8) : nil
        do {
            try PrivateFile.checkMode(file.path, purpose: file.purpose)
            return SecretFileStatus(file: file, state: .ok, mode: mode, detail: nil)
        } catch {
            switch error.code {
            case .fileMissing:
                let detail = file.createdByInit
                    ? "\(file.purpose) \(file.path) does not exist yet: it will be created by drctl init"
                    : "\(file.purpose) \(file.path) does not exist: create it with mode 0600 (drctl cannot create it for you)"
                return SecretFileStatus(file: file, state: .missing, mode: nil, detail: detail)
            case .fileModeTooOpen:
                return SecretFileStatus(file: file, state: .modeTooOpen, mode: mode, detail: error.message)
            case .fileNotRegular:
                return SecretFileStatus(file: file, state: .notRegular, mode: mode,
                                        detail: error.message + ": expected a file")
            default:
                return SecretFileStatus(file: file, state: .unreadable, mode: mode, detail: error.message)
            }
        }
    }
}

extension Configuration {
    /// The status of every secret file (see `secretFiles`), in configuration order.
    package func inspectSecretFiles() -> [SecretFileStatus] {
        secretFiles.map(SecretFileStatus.inspect)
    }
}

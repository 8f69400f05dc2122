/// Marks the domain of a `DomainError`: each domain (base, crypto, compression, repository,
/// jobs, …) is an empty enum, so that every domain has its own error type — `catch let e as
/// RepositoryError` catches the repository's errors only — without each one repeating the
/// same three fields.
package protocol ErrorDomain: Sendable {}

/// The error type of one domain: an opaque stable `code`, the exit status it maps to, and an
/// actionable, secret-free message (see `DRError`).
package struct DomainError<Domain: ErrorDomain>: DRError {
    package let code: String
    package let exitStatus: ExitStatus
    package let message: String

    package init(code: String, exitStatus: ExitStatus, message: String) {
        self.code = code
        self.exitStatus = exitStatus
        self.message = message
    }

    /// Another domain's error as this domain's, keeping its code, status and message.
    package init(_ other: any DRError) {
        self.init(code: other.code, exitStatus: other.exitStatus, message: other.message)
    }
}

/// The base layer: process set-up and local files.
package enum BaseDomain: ErrorDomain {}
package typealias BaseError = DomainError<BaseDomain>

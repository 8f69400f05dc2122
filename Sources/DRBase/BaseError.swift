/// Marks the domain of a `DomainError`: each domain (base, crypto, compression, repository,
/// jobs, …) is an empty enum, so that every domain has its own error type — `catch let e as
/// RepositoryError` catches the repository's errors only — without each one repeating the
/// same fields.
package protocol ErrorDomain: Sendable {}

/// The error type of one domain: a code from the catalogue, an actionable, secret-free
/// message, where it happened, and the system or library code behind it (see `DRError`).
package struct DomainError<Domain: ErrorDomain>: DRError {
    package let code: ErrorCode
    package let message: String
    package var context: ErrorContext
    package let underlying: UnderlyingCode?

    package init(_ code: ErrorCode, message: String, context: ErrorContext = ErrorContext(),
                 underlying: UnderlyingCode? = nil) {
        self.code = code
        self.message = message
        self.context = context
        self.underlying = underlying
    }

    /// Any error as this domain's: the one conversion between domains.
    ///
    /// Typed throws make every layer name its own error type, so an error crossing a module
    /// boundary is re-typed here, keeping its code, message, context and underlying code (and
    /// so its exit status). An error that is not drctl's own is a defect: `internal`.
    package init(_ other: any Error) {
        if let known = other as? any DRError {
            self.init(known.code, message: known.message, context: known.context,
                      underlying: known.underlying)
        } else {
            self.init(.internalDefect, message: "unexpected error: \(other)")
        }
    }
}

/// The base layer: process set-up and local files.
package enum BaseDomain: ErrorDomain {}
package typealias BaseError = DomainError<BaseDomain>

package import DRBase

/// Errors of the repository layer. Messages name the target and object involved. Errors of
/// lower layers (transport, crypto, compression, SQLite) become `RepositoryError` through the
/// one conversion, `DomainError.init(_:)`, keeping their code, context and underlying code.
package enum RepositoryDomain: ErrorDomain {}
package typealias RepositoryError = DomainError<RepositoryDomain>

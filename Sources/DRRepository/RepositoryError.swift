package import DRBase
import DRTransport

/// Errors of the repository layer. Messages name the target and object involved.
package enum RepositoryDomain: ErrorDomain {}
package typealias RepositoryError = DomainError<RepositoryDomain>

extension RepositoryError {
    /// Wraps a lower layer's error, keeping its code and status.
    static func wrap(_ error: any DRError) -> RepositoryError {
        RepositoryError(error)
    }

    /// Any error from a block that mixes layers (transport, crypto, our own), as ours.
    static func from(_ error: any Error) -> RepositoryError {
        if let own = error as? RepositoryError { return own }
        if let known = error as? any DRError { return wrap(known) }
        return RepositoryError(code: "repository.internal", exitStatus: .failure, message: "\(error)")
    }
}

import DRBase
import DRTransport

/// Errors of the repository layer. Messages name the target and object involved.
public struct RepositoryError: DRError {
    public let code: String
    public let exitStatus: ExitStatus
    public let message: String

    public init(code: String, exitStatus: ExitStatus, message: String) {
        self.code = code
        self.exitStatus = exitStatus
        self.message = message
    }

    /// Wraps a lower layer's error, keeping its code and status.
    static func wrap(_ error: any DRError) -> RepositoryError {
        RepositoryError(code: error.code, exitStatus: error.exitStatus, message: error.message)
    }

    /// Any error from a block that mixes layers (transport, crypto, our own), as ours.
    static func from(_ error: any Error) -> RepositoryError {
        if let own = error as? RepositoryError { return own }
        if let known = error as? any DRError { return wrap(known) }
        return RepositoryError(code: "repository.internal", exitStatus: .failure, message: "\(error)")
    }
}

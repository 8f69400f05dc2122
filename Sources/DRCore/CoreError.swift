package import DRBase

/// Errors of the jobs layer (secret acquisition, job orchestration).
package enum CoreDomain: ErrorDomain {}
package typealias CoreError = DomainError<CoreDomain>

extension CoreError {
    static func wrap(_ error: any Error) -> any DRError {
        if let known = error as? any DRError { return known }
        return CoreError(code: "internal", exitStatus: .failure, message: "\(error)")
    }
}

package import DRBase

/// Errors of the jobs layer (secret acquisition, job orchestration). Errors of lower layers
/// become `CoreError` through the one conversion, `DomainError.init(_:)`.
package enum CoreDomain: ErrorDomain {}
package typealias CoreError = DomainError<CoreDomain>

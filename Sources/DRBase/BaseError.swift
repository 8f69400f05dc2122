/// Errors of the base layer: process set-up and local files.
public struct BaseError: DRError {
    public let code: String
    public let exitStatus: ExitStatus
    public let message: String

    public init(code: String, exitStatus: ExitStatus, message: String) {
        self.code = code
        self.exitStatus = exitStatus
        self.message = message
    }
}

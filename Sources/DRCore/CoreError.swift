import DRBase

/// Errors of the jobs layer (secret acquisition, job orchestration).
public struct CoreError: DRError {
    public let code: String
    public let exitStatus: ExitStatus
    public let message: String

    public init(code: String, exitStatus: ExitStatus, message: String) {
        self.code = code
        self.exitStatus = exitStatus
        self.message = message
    }

    static func wrap(_ error: any Error) -> any DRError {
        if let known = error as? any DRError { return known }
        return CoreError(code: "internal", exitStatus: .failure, message: "\(error)")
    }
}

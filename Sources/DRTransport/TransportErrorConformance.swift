package import DRBase

extension TransportError: DRError {
    package var exitStatus: ExitStatus {
        switch kind {
        case .notFound: .noInput
        case .exists: .cannotCreate
        case .io: .ioError
        case .permission: .permissionDenied
        case .noSpace: .ioError
        case .invalidKey: .dataError
        case .protocolError: .failure
        }
    }
}

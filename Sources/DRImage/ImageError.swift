package import DRBase

/// The one error type of the image domain (keyless consistent images of live files).
///
/// Codes are `image.*` in the catalogue (`ErrorCode`), documented in docs/IMAGE.md and
/// docs/EXIT-CODES.md; `message` names the file and says what to do. Messages never contain
/// page contents.
package struct ImageError: DRError {
    package let code: ErrorCode
    package let message: String
    package var context: ErrorContext
    package let underlying: UnderlyingCode?
    /// Whether the condition is expected to go away (a writer committing, a file changing):
    /// `ImageCapture` retries these itself before giving up.
    package let isTransient: Bool

    package init(_ code: ErrorCode, message: String, context: ErrorContext = ErrorContext(),
                 underlying: UnderlyingCode? = nil, isTransient: Bool = false) {
        self.code = code
        self.message = message
        self.context = context
        self.underlying = underlying
        self.isTransient = isTransient
    }

    /// The errno behind it, if it came from a system call.
    package var errnoValue: Int32? {
        if case .errno(let value) = underlying { return value }
        return nil
    }

    /// This error with another message and its other facts kept.
    package func with(message: String) -> ImageError {
        ImageError(code, message: message, context: context, underlying: underlying,
                      isTransient: isTransient)
    }

    /// An error from a system call on `path`, with the code its errno deserves.
    static func system(_ operation: String, path: String, errno err: Int32) -> ImageError {
        let context = ErrorContext(file: path)
        switch err {
        case ENOENT:
            return ImageError(.imageMissing,
                                 message: "\(path): \(operation) failed: \(errnoDescription(err)); check the path (the file may have been removed or renamed)",
                                 context: context, underlying: .errno(err))
        case EACCES, EPERM:
            return ImageError(.imagePermission,
                                 message: "\(path): \(operation) failed: \(errnoDescription(err)); run drctl as a user that can read the mailbox (and write its -shm, as any SQLite reader must)",
                                 context: context, underlying: .errno(err))
        default:
            return ImageError(.imageIo,
                                 message: "\(path): \(operation) failed: \(errnoDescription(err))",
                                 context: context, underlying: .errno(err))
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// What every drctl error provides, whatever its domain.
///
/// Each domain (configuration, crypto, image, repository, transport, …) has its own error
/// type, so that `catch let e as RepositoryError` catches that domain's errors only, but all
/// of them share one catalogue of codes (`ErrorCode`): the code decides the exit status, so
/// the same failure can never exit two ways. The message names the file, line, object or
/// target and says what to do; the same facts are also kept apart in `context` for `--json`
/// output and for callers that decide by them. Messages never contain secret material.
package protocol DRError: Error, CustomStringConvertible, Sendable {
    /// The stable, documented code (`config.unknown-key`).
    var code: ErrorCode { get }
    /// The actionable, secret-free message.
    var message: String { get }
    /// Where it happened: target, object, file and line, mailbox.
    var context: ErrorContext { get }
    /// The operating-system or library code behind it, if any.
    var underlying: UnderlyingCode? { get }
}

extension DRError {
    package var description: String { message }
    /// How the process exits when this error ends it: decided by the code alone.
    package var exitStatus: ExitStatus { code.exitStatus }
}

/// Where an error happened, as structured fields (each one optional). The message says the
/// same in words; these exist so that `--json` output and callers need not parse it.
package struct ErrorContext: Sendable, Equatable, Codable {
    package var target: String?
    package var object: String?
    package var file: String?
    package var line: Int?
    package var mailbox: String?

    package init(target: String? = nil, object: String? = nil, file: String? = nil,
                 line: Int? = nil, mailbox: String? = nil) {
        self.target = target
        self.object = object
        self.file = file
        self.line = line
        self.mailbox = mailbox
    }

    /// This context with the fields of `other` filled in where this one has none: an error
    /// passing up through a layer keeps what the lower layer knew and gains what it adds.
    package func merged(with other: ErrorContext) -> ErrorContext {
        ErrorContext(target: target ?? other.target, object: object ?? other.object,
                     file: file ?? other.file, line: line ?? other.line,
                     mailbox: mailbox ?? other.mailbox)
    }
}

/// The code of the operating system or a C library behind an error.
package enum UnderlyingCode: Sendable, Equatable, CustomStringConvertible {
    /// An errno value.
    case errno(Int32)
    /// A C library's own result code (`sqlite` 13, `zstd` -70, `curl` 28, …).
    case library(String, Int)

    package var description: String {
        switch self {
        case .errno(let value): errnoDescription(value)
        case .library(let name, let value): "\(name) \(value)"
        }
    }
}

/// An operating-system errno, rendered the same way everywhere.
package func errnoDescription(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "errno \(code)" }
    return String(cString: text) + " (errno \(code))"
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

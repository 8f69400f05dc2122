/// What every drctl error domain provides.
///
/// Each domain (configuration, crypto, snapshot, repository, transport, …) has one error
/// struct with an opaque `code` (stable, for scripts and docs), the exit status it maps to,
/// and a message a person can act on: what failed, on which file/line/object/target, and
/// what to do. Messages must never contain secret material.
package protocol DRError: Error, CustomStringConvertible, Sendable {
    /// A stable identifier such as `config.unknown-key`; documented, never localized.
    var code: String { get }
    /// How the process should exit when this error ends it.
    var exitStatus: ExitStatus { get }
    /// The actionable, secret-free message.
    var message: String { get }
}

extension DRError {
    package var description: String { message }
}

/// An error that carries an operating-system errno, rendered the same way everywhere.
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

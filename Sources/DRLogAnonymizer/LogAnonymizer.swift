package import DRConfig

/// Streams a mail-server log through anonymization, line by line, in constant memory.
///
/// Push style, so that a caller can feed it from a file, standard input or a decompressor and
/// send its output to a file, standard output or a compressor: `feed` any number of times,
/// then `finish` once. Complete output lines (with their newline) go to `emit`.
///
/// PLACEHOLDER (issue 13 in progress): the interface is settled; the scanner that replaces
/// personal data lands with the anonymizer's branch. Until then this copies its input.
package final class LogAnonymizer {
    package init(configuration: Configuration.Logs, keys: borrowing LogPseudonymKeys,
                 format: LogFormat = .auto) throws {}

    package func feed(_ bytes: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        try emit(bytes)
    }

    package func finish(emit: (UnsafeRawBufferPointer) throws -> Void) throws {}
}

/// The log formats the anonymizer knows; `auto` detects each line's own.
package enum LogFormat: String, Sendable, CaseIterable {
    case auto, postfix, dovecot, haraka, nginx, json, text
}

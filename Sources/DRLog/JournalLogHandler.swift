import DRBase
package import Logging

/// Log events for journald (and any reader of a pipe or file): one line per event,
/// `<P>label: level: message key=value …`, where `<P>` is the syslog priority that journald
/// takes from the line when standard error is connected to it (systemd.exec(5),
/// `SyslogLevelPrefix=`, on by default), so `journalctl -p warning` finds the warnings.
///
/// No control character reaches the line (`LogText.escaped`): one event is exactly one line
/// whatever the names in it hold, and nothing in it can steer a terminal that later shows it.
/// The metadata is what the callers pass: names, counts, codes, never a secret (callers pass
/// no key, passphrase or credential; docs/SECURITY.md, "Logs").
package struct JournalLogHandler: LogHandler {
    package var logLevel: Logger.Level = .info
    package var metadata: Logger.Metadata = [:]
    package var metadataProvider: Logger.MetadataProvider?
    private let label: String

    package init(label: String, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.metadataProvider = metadataProvider
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        // One write(2) per line: lines of concurrent workers never interleave inside a pipe.
        StandardStreams.writeError(Self.line(level: event.level, message: event.message.description,
                                             metadata: merged(event.metadata), label: label))
    }

    /// The handler's own metadata, then the provider's, then the event's (the most specific wins).
    private func merged(_ event: Logger.Metadata?) -> Logger.Metadata {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let event { all.merge(event) { $1 } }
        return all
    }

    /// The line for one event, newline included.
    package static func line(level: Logger.Level, message: String, metadata: Logger.Metadata = [:],
                             label: String = "drctl") -> String {
        "<\(LogText.priority(level))>" + LogText.escaped(label) + ": " + LogText.levelWord(level)
            + LogText.escaped(message) + LogText.metadata(metadata) + "\n"
    }
}

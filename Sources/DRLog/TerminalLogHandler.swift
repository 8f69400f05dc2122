import DRBase
package import Logging

/// Log events for a person at a terminal: `drctl: warning: …`, `drctl: error: …`, as drctl has
/// always written them, with the level word in colour (unless `NO_COLOR` is set or the
/// terminal is `dumb`), and no priority prefix or metadata: the message names what a person
/// needs, the metadata is for machines (the journal's lines carry it).
///
/// A message keeps its line breaks (a configuration error's lines are meant to be read as
/// lines) but no other control character: a mailbox name holding an escape sequence is shown
/// as `\x1b[…`, never obeyed. A progress line on the terminal is cleared first (`StatusLine`).
package struct TerminalLogHandler: LogHandler {
    package var logLevel: Logger.Level = .info
    package var metadata: Logger.Metadata = [:]
    package var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let colour: Bool

    package init(label: String, colour: Bool) {
        self.label = label
        self.colour = colour
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        StatusLine.writeLines(Self.text(level: event.level, message: event.message.description,
                                        label: label, colour: colour))
    }

    /// The text for one event, newline included.
    package static func text(level: Logger.Level, message: String, label: String = "drctl",
                             colour: Bool = false) -> String {
        var word = LogText.levelWord(level)
        if colour, !word.isEmpty {
            // Bold red for errors, bold yellow for warnings; the colon and space stay plain.
            let code = level >= .error ? "1;31" : "1;33"
            word = "\u{1B}[\(code)m" + word.dropLast(2) + "\u{1B}[0m: "
        }
        return LogText.escaped(label) + ": " + word + LogText.escaped(message, keepingLineBreaks: true) + "\n"
    }

    /// Whether a terminal wants colour: not when `NO_COLOR` is set (no-color.org) nor on a
    /// `dumb` terminal.
    package static func wantsColour(environment: [String: String]) -> Bool {
        (environment["NO_COLOR"] ?? "").isEmpty && environment["TERM"] != "dumb"
    }
}

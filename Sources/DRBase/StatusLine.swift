import Synchronization

/// The one line a terminal shows below the log (the progress line), redrawn in place on
/// standard error.
///
/// Log lines and the status line share the terminal: a log line written while the status line
/// is drawn would start in the middle of it and be overdrawn by the next redraw. So both go
/// through here, under one lock: a log line clears the status line first and the next redraw
/// draws it again below. Used only when standard error is a terminal (no escape sequence ever
/// reaches a pipe or the journal).
package enum StatusLine {
    private static let drawn = Mutex<Bool>(false)

    /// Erase-line: back to column 0, then clear to the end of the line.
    private static let erase = "\r\u{1B}[K"

    /// Draws `text` (one line, no newline) in place of the current status line.
    package static func draw(_ text: String) {
        drawn.withLock { shown in
            StandardStreams.writeError(erase + text)
            shown = true
        }
    }

    /// Clears the status line, if one is drawn: the terminal is left as the command found it.
    package static func clear() {
        drawn.withLock { shown in
            guard shown else { return }
            StandardStreams.writeError(erase)
            shown = false
        }
    }

    /// Writes whole lines (ending in a newline) above the status line, which the next
    /// `draw` puts back.
    package static func writeLines(_ text: String) {
        drawn.withLock { shown in
            StandardStreams.writeError((shown ? erase : "") + text)
            shown = false
        }
    }
}

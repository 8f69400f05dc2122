#if canImport(Glibc)
import Glibc
#endif

/// Unbuffered writes to standard error and standard output through write(2).
///
/// Going through the file descriptor (not the C `FILE*` globals) keeps Swift 6's strict
/// concurrency checking happy and makes every line reach the journal even if we exit at once.
package enum StandardStreams {
    package static func writeError(_ text: String) { write(fd: 2, text) }
    package static func writeOutput(_ text: String) { write(fd: 1, text) }

    /// Whether standard error is a terminal (progress display, prompts).
    package static var errorIsTerminal: Bool { isatty(2) == 1 }
    package static var inputIsTerminal: Bool { isatty(0) == 1 }

    /// The width of the terminal on standard error, if it is one that says (TIOCGWINSZ): a
    /// status line longer than that would wrap, and its redraw in place would then leave the
    /// wrapped part behind.
    package static var errorColumns: Int? {
        var size = winsize()
        guard ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }

    private static func write(fd: Int32, _ text: String) {
        FileIO.writeAll(fd, Array(text.utf8))
    }
}

/// A `TextOutputStream` for `print(..., to: &stream)` onto standard error.
package struct StandardErrorStream: TextOutputStream {
    package init() {}
    package mutating func write(_ string: String) { StandardStreams.writeError(string) }
}

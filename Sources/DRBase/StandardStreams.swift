#if canImport(Glibc)
import Glibc
#endif

/// Unbuffered writes to standard error and standard output through write(2).
///
/// Going through the file descriptor (not the C `FILE*` globals) keeps Swift 6's strict
/// concurrency checking happy and makes every line reach the journal even if we exit at once.
public enum StandardStreams {
    public static func writeError(_ text: String) { write(fd: 2, text) }
    public static func writeOutput(_ text: String) { write(fd: 1, text) }

    /// Whether standard error is a terminal (progress display, prompts).
    public static var errorIsTerminal: Bool { isatty(2) == 1 }
    public static var inputIsTerminal: Bool { isatty(0) == 1 }

    private static func write(fd: Int32, _ text: String) {
        FileIO.writeAll(fd, Array(text.utf8))
    }
}

/// A `TextOutputStream` for `print(..., to: &stream)` onto standard error.
public struct StandardErrorStream: TextOutputStream {
    public init() {}
    public mutating func write(_ string: String) { StandardStreams.writeError(string) }
}

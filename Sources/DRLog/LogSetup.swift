import DRBase
package import Logging

/// The one place the process chooses its log handler (swift-log's `LoggingSystem` takes one
/// bootstrap per process): journal lines when standard error is not a terminal (systemd, cron,
/// a pipe, a file), text for a person when it is.
package enum LogSetup {
    /// The label of drctl's loggers, which both handlers print before each message.
    package static let label = "drctl"

    /// Bootstraps swift-log. Call once, first thing in `main`.
    package static func bootstrap(terminal: Bool = StandardStreams.errorIsTerminal,
                                  environment: [String: String]) {
        let colour = terminal && TerminalLogHandler.wantsColour(environment: environment)
        LoggingSystem.bootstrap { label -> any LogHandler in
            if terminal { return TerminalLogHandler(label: label, colour: colour) }
            return JournalLogHandler(label: label)
        }
    }

    /// A logger for drctl's commands: notices, warnings and errors; with `verbose`, the debug
    /// detail too (the configuration used, the job's settings).
    package static func logger(verbose: Bool = false) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = verbose ? .debug : .info
        return logger
    }
}

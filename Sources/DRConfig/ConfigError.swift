package import DRBase

/// Everything that can be wrong with a configuration, as one error.
///
/// The decoder does not stop at the first mistake: an operator fixing a file at 3 a.m. should
/// see every problem in one run, as a compiler shows every error. `problems` holds them in
/// file order; `code` and `exitStatus` are those of the first, and `message` is one line per
/// problem, each starting `FILE:LINE:` (`FILE:LINE:COLUMN:` for syntax errors) so that
/// editors and `grep` can jump to it.
package struct ConfigError: DRError, Equatable {
    /// One thing wrong, with where it is.
    package struct Problem: Sendable, Equatable {
        /// `config.syntax`, `config.unknown-key`, `config.unknown-section`, `config.type`,
        /// `config.missing-key`, `config.invalid-value`, `config.not-found`, `config.io`,
        /// `config.secret-file`.
        package var code: String
        /// The file as it was named (nil for the embedded default or the environment).
        package var file: String?
        /// 1-based; nil when the problem is about the whole file.
        package var line: Int?
        package var column: Int?
        /// What is wrong and what is expected, without the location prefix.
        package var text: String

        package init(code: String, file: String?, line: Int? = nil, column: Int? = nil,
                    text: String) {
            self.code = code
            self.file = file
            self.line = line
            self.column = column
            self.text = text
        }

        /// `FILE:LINE:COLUMN: text`, leaving out the parts that are unknown.
        package var rendered: String {
            var location = file ?? ""
            if let line {
                location += location.isEmpty ? "line \(line)" : ":\(line)"
                if let column { location += ":\(column)" }
            }
            return location.isEmpty ? text : "\(location): \(text)"
        }
    }

    package let problems: [Problem]
    package let exitStatus: ExitStatus

    package var code: String { problems.first?.code ?? "config.invalid-value" }
    package var message: String { problems.map(\.rendered).joined(separator: "\n") }

    package init(problems: [Problem], exitStatus: ExitStatus = .configuration) {
        self.problems = problems
        self.exitStatus = exitStatus
    }

    package init(code: String, file: String?, line: Int? = nil, column: Int? = nil,
                text: String, exitStatus: ExitStatus = .configuration) {
        self.init(problems: [Problem(code: code, file: file, line: line, column: column,
                                     text: text)],
                  exitStatus: exitStatus)
    }
}

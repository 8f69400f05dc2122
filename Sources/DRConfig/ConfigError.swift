package import DRBase

/// Everything that can be wrong with a configuration, as one error.
///
/// The decoder does not stop at the first mistake: an operator fixing a file at 3 a.m. should
/// see every problem in one run, as a compiler shows every error. `problems` holds them in
/// file order; `code` and `exitStatus` are those of the first, and `message` is one line per
/// problem, each starting `FILE:LINE:` (`FILE:LINE:COLUMN:` for syntax errors) so that
/// editors and `grep` can jump to it. The first problem's code decides the exit status, as
/// every code does (`ErrorCode`).
package struct ConfigError: DRError, Equatable {
    /// One thing wrong, with where it is.
    package struct Problem: Sendable, Equatable {
        /// One of the catalogue's `config.*` codes (or a lower layer's, for a secret file).
        package var code: ErrorCode
        /// The file as it was named (nil for the embedded default or the environment).
        package var file: String?
        /// 1-based; nil when the problem is about the whole file.
        package var line: Int?
        package var column: Int?
        /// What is wrong and what is expected, without the location prefix.
        package var text: String

        package init(code: ErrorCode, file: String?, line: Int? = nil, column: Int? = nil,
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
    package let underlying: UnderlyingCode?

    package var code: ErrorCode { problems.first?.code ?? .configInvalidValue }
    package var message: String { problems.map(\.rendered).joined(separator: "\n") }
    package var context: ErrorContext {
        ErrorContext(file: problems.first?.file, line: problems.first?.line)
    }

    package init(problems: [Problem], underlying: UnderlyingCode? = nil) {
        self.problems = problems
        self.underlying = underlying
    }

    package init(code: ErrorCode, file: String?, line: Int? = nil, column: Int? = nil,
                text: String, underlying: UnderlyingCode? = nil) {
        self.init(problems: [Problem(code: code, file: file, line: line, column: column,
                                     text: text)],
                  underlying: underlying)
    }
}

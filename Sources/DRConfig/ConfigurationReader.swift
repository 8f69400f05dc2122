import DRBase
/// Typed reads of one configuration file's keys.
///
/// A read that fails records the problem, located at the line of the key at fault (or of the
/// table header when a key is missing), and returns nil: decoding goes on, so that one run
/// reports every problem.
struct ConfigurationReader {
    /// The file as the operator named it, for messages.
    let file: String
    /// Absolute folder of the file: relative paths in it are resolved against this folder, so
    /// that a configuration means the same whatever the working directory of the timer.
    let baseDirectory: String
    private(set) var problems: [ConfigError.Problem] = []

    init(file: String, baseDirectory: String) {
        self.file = file
        self.baseDirectory = baseDirectory
    }

    /// One table being read, and how messages name it.
    struct Section {
        let table: TOMLTable
        /// `[store]`, `[[target]] #2 "us-east"`.
        let context: String
        let allowed: [String]
    }

    // MARK: Problems

    mutating func report(_ code: ErrorCode, line: Int?, _ text: String) {
        problems.append(.init(code: code, file: file, line: line, text: text))
    }

    mutating func checkUnknownKeys(_ section: Section) {
        for entry in section.table.entries where !section.allowed.contains(entry.key) {
            var text = "\(section.context): unknown key \(quoted(entry.key))"
            if let guess = Suggestions.closest(to: entry.key, in: section.allowed) {
                text += " — did you mean \(quoted(guess))?"
            } else {
                text += "."
            }
            text += " Allowed keys: \(section.allowed.joined(separator: ", "))"
            report(.configUnknownKey, line: entry.line, text)
        }
    }

    mutating func missing(_ section: Section, _ key: String, _ hint: String) {
        report(.configMissingKey, line: section.table.line,
               "\(section.context): missing key \(quoted(key)) — add \(hint)")
    }

    mutating func wrongType(_ section: Section, _ entry: TOMLTable.Entry, _ expected: String) {
        report(.configType, line: entry.node.line,
               "\(section.context): \(entry.key): expected \(expected), found \(entry.node.value.kindDescription)")
    }

    mutating func invalid(_ section: Section, _ entry: TOMLTable.Entry, _ text: String) {
        report(.configInvalidValue, line: entry.node.line, "\(section.context): \(entry.key): \(text)")
    }

    // MARK: Typed reads

    mutating func string(_ section: Section, _ key: String, example: String) -> (String, TOMLTable.Entry)? {
        guard let entry = section.table[key] else { return nil }
        guard case .string(let text) = entry.node.value else {
            wrongType(section, entry, "a string like \(example)")
            return nil
        }
        guard !text.isEmpty else {
            invalid(section, entry, "must not be empty; expected a string like \(example)")
            return nil
        }
        return (text, entry)
    }

    /// A file or folder path; relative paths are resolved against the configuration's folder.
    mutating func path(_ section: Section, _ key: String, example: String) -> String? {
        guard let (text, entry) = string(section, key, example: quoted(example)) else { return nil }
        return checkedPath(section, entry, text)
    }

    mutating func checkedPath(_ section: Section, _ entry: TOMLTable.Entry, _ text: String) -> String? {
        if text.hasPrefix("~") {
            invalid(section, entry, "\(quoted(text)): ~ is not expanded in the configuration; write the absolute path")
            return nil
        }
        if text.unicodeScalars.contains("\u{0}") {
            invalid(section, entry, "a path cannot contain a NUL character")
            return nil
        }
        return Paths.resolve(text, against: baseDirectory)
    }

    mutating func boolean(_ section: Section, _ key: String) -> Bool? {
        guard let entry = section.table[key] else { return nil }
        guard case .boolean(let value) = entry.node.value else {
            var expected = "true or false"
            if case .string(let text) = entry.node.value, ["true", "false"].contains(text.lowercased()) {
                expected += " (without quotes)"
            }
            wrongType(section, entry, expected)
            return nil
        }
        return value
    }

    /// A byte size in the configuration's notation ("16MiB"), within `range`.
    mutating func byteSize(_ section: Section, _ key: String, range: ClosedRange<Int64>,
                           example: String) -> Int64? {
        guard let entry = section.table[key] else { return nil }
        let expected = "a size string like \(quoted(example)) (a whole number and a unit: B, KiB, MiB, GiB or TiB, no space)"
        guard case .string(let text) = entry.node.value else {
            wrongType(section, entry, expected)
            return nil
        }
        guard let bytes = ByteSize.parse(text) else {
            invalid(section, entry, "\(quoted(text)) is not a size: expected \(expected)")
            return nil
        }
        guard range.contains(Int64(bytes)) else {
            invalid(section, entry, "\(quoted(text)) is out of range: expected \(ByteSize.exact(Int(range.lowerBound))) to \(ByteSize.exact(Int(range.upperBound)))")
            return nil
        }
        return Int64(bytes)
    }

    mutating func integer(_ section: Section, _ key: String, range: ClosedRange<Int64>,
                          example: String) -> Int? {
        guard let entry = section.table[key] else { return nil }
        guard case .integer(let value) = entry.node.value else {
            var expected = "an integer like \(example)"
            if case .string(let text) = entry.node.value, Int64(text) != nil {
                expected += " (without quotes)"
            }
            wrongType(section, entry, expected)
            return nil
        }
        guard range.contains(value) else {
            invalid(section, entry, "\(value) is out of range: expected \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return Int(value)
    }

    mutating func duration(_ section: Section, _ key: String, range: ClosedRange<ConfigDuration>,
                           example: String) -> ConfigDuration? {
        guard let entry = section.table[key] else { return nil }
        let expected = "a duration string like \(quoted(example)) (a whole number and a unit: s, m, h, d or w)"
        guard case .string(let text) = entry.node.value else {
            wrongType(section, entry, expected)
            return nil
        }
        guard let value = ConfigDuration(parsing: text) else {
            invalid(section, entry, "\(quoted(text)) is not a duration: expected \(expected)")
            return nil
        }
        guard range.contains(value) else {
            invalid(section, entry, "\(value) is out of range: expected \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return value
    }

    mutating func stringArray(_ section: Section, _ key: String, example: String) -> (items: [String], entry: TOMLTable.Entry)? {
        guard let entry = section.table[key] else { return nil }
        let expected = "an array of strings like \(example)"
        guard case .array(let nodes) = entry.node.value else {
            wrongType(section, entry, expected)
            return nil
        }
        var items: [String] = []
        for (position, node) in nodes.enumerated() {
            guard case .string(let text) = node.value, !text.isEmpty else {
                report(.configType, line: node.line,
                       "\(section.context): \(key)[\(position)]: expected a non-empty string, found \(node.value.kindDescription)")
                return nil
            }
            items.append(text)
        }
        return (items, entry)
    }
}

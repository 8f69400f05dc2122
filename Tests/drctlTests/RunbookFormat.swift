import Foundation

// The machine-readable parts of a runbook (runbooks/README.md, "How the runbooks are tested"):
// the scenario comment at the top, the ```sh blocks that are run in order, the ```output (or
// ```text) block after one that is its expected output, and the ```sh-norun blocks that are
// not run and must say why. Parsing is strict: a runbook the test cannot read fails the test.

struct RunbookFormatError: Error, CustomStringConvertible {
    var description: String
}

/// One ```sh block and, when the runbook gives one, its expected output.
struct RunbookStep {
    var line: Int
    var script: String
    var expected: [String]?
    var expectedLine: Int?
}

struct Runbook {
    var file: String
    /// `scenario` and the other `key: value` pairs of the `<!-- scenario: … -->` comment.
    var settings: [String: String]
    var steps: [RunbookStep]
    var notRun: [(line: Int, reason: String)]

    var scenario: String { settings["scenario"] ?? "" }

    /// The first line a not-run block must start with, followed by its reason.
    static let notRunMarker = "# not run by the test:"
    /// More would turn a runbook into prose the test cannot keep true.
    static let maximumNotRun = 2

    static func parse(file: String) throws -> Runbook {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let name = (file as NSString).lastPathComponent
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var runbook = Runbook(file: name, settings: try header(lines, name), steps: [], notRun: [])
        // The fence being read: its info string, first line and body.
        var open: (info: String, line: Int, body: [String])?
        // Whether the last fenced block was an sh block still without expected output.
        var awaitingOutput = false
        for (index, raw) in lines.enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard line.hasPrefix("```") else {
                open?.body.append(raw)
                continue
            }
            guard let block = open else {
                open = (String(line.dropFirst(3)).trimmingCharacters(in: .whitespaces), index + 1, [])
                continue
            }
            guard line == "```" else {
                throw RunbookFormatError(description: "\(name):\(index + 1): a fence opens inside the block of line \(block.line); close that block with ``` first")
            }
            open = nil
            switch block.info {
            case "sh":
                runbook.steps.append(RunbookStep(line: block.line, script: block.body.joined(separator: "\n")))
                awaitingOutput = true
            case "output", "text":
                guard awaitingOutput, !runbook.steps.isEmpty else {
                    throw RunbookFormatError(description: "\(name):\(block.line): a ```\(block.info) block must follow an ```sh block (it is that block's expected output); use another language for an example")
                }
                runbook.steps[runbook.steps.count - 1].expected = block.body
                runbook.steps[runbook.steps.count - 1].expectedLine = block.line
                awaitingOutput = false
            case "sh-norun":
                let first = block.body.first?.trimmingCharacters(in: .whitespaces) ?? ""
                guard first.hasPrefix(notRunMarker), first.count > notRunMarker.count + 3 else {
                    throw RunbookFormatError(description: "\(name):\(block.line): a ```sh-norun block must start with \"\(notRunMarker) REASON\"")
                }
                runbook.notRun.append((block.line, String(first.dropFirst(notRunMarker.count)).trimmingCharacters(in: .whitespaces)))
                awaitingOutput = false
            default:
                awaitingOutput = false
            }
        }
        if let block = open {
            throw RunbookFormatError(description: "\(name):\(block.line): the ```\(block.info) block is never closed")
        }
        if runbook.notRun.count > maximumNotRun {
            throw RunbookFormatError(description: "\(name): \(runbook.notRun.count) ```sh-norun blocks (at most \(maximumNotRun)): make the commands runnable in a scenario")
        }
        return runbook
    }

    /// `<!-- scenario: NAME, key: value, … -->`, the first HTML comment of the file.
    static func header(_ lines: [String], _ name: String) throws -> [String: String] {
        guard let line = lines.first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix("<!--") }),
              let body = line.range(of: "<!--").map({ line[$0.upperBound...] }),
              let end = body.range(of: "-->") else {
            throw RunbookFormatError(description: "\(name): no <!-- scenario: NAME --> comment at the top: the test cannot know what to prepare")
        }
        var settings: [String: String] = [:]
        for pair in body[..<end.lowerBound].split(separator: ",") {
            let parts = pair.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw RunbookFormatError(description: "\(name): \"\(pair)\" in the scenario comment is not \"key: value\"")
            }
            settings[parts[0]] = parts[1]
        }
        guard settings["scenario"] != nil else {
            throw RunbookFormatError(description: "\(name): the first comment names no scenario (<!-- scenario: NAME -->)")
        }
        return settings
    }

    /// `store: N mailboxes`, or `fallback` when the runbook does not say.
    func mailboxes(default fallback: Int) throws -> Int {
        guard let text = settings["store"] else { return fallback }
        guard let count = text.split(separator: " ").first.flatMap({ Int($0) }), count > 0 else {
            throw RunbookFormatError(description: "\(file): \"store: \(text)\" is not \"store: N mailboxes\"")
        }
        return count
    }

    /// Every runbook of runbooks/ (its README, which describes them, excepted).
    static func all() -> [String] {
        let folder = "\(ProjectRoot.path)/runbooks"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasSuffix(".md") && $0 != "README.md" }.sorted()
    }
}

/// Expected output against what a block printed (standard output and error, as a terminal
/// shows them), line by line, with the placeholders runbooks/README.md lists. The README's
/// tour (ReadmeTests) is matched by the same rules.
enum RunbookOutput {
    static let placeholders: [(String, String)] = [
        ("<time>", #"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"#),
        ("<id>", "[0-9a-f]{4,64}"),
        ("<n>", #"-?\d+(?:[.,]\d+)*"#),
        ("<bytes>", #"\d+(\.\d+)? ?(B|KiB|MiB|GiB|TiB|bytes)"#),
        // As drctl writes durations for people ("9 s", "0.25 s", "4 min 5 s", "3 h 5 min"), or a
        // configuration's ("30m").
        ("<duration>", #"(?:\d[\d.]* ?(?:ms|s|min|h|d|w)(?: \d+ ?(?:s|min|h))?|\S+)"#),
        ("<path>", #"\S+"#),
        ("<word>", #"\S+"#),
        ("<text>", ".*"),
    ]

    /// Spaces collapsed (column widths follow the data), blank lines dropped.
    static func normalized(_ lines: [String]) -> [String] {
        lines.map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }

    static func pattern(_ line: String) throws -> NSRegularExpression {
        var regex = ""
        var rest = Substring(line)
        outer: while !rest.isEmpty {
            for (name, replacement) in placeholders where rest.hasPrefix(name) {
                regex += replacement
                rest = rest.dropFirst(name.count)
                continue outer
            }
            // Any other `<word>` (`<target>`, `<ip>`, `<name>`): one run of non-blank characters.
            if rest.first == "<", let close = rest.firstIndex(of: ">"), close > rest.index(after: rest.startIndex),
               rest[rest.index(after: rest.startIndex)..<close].allSatisfy({ $0.isASCII && ($0.isLowercase || $0 == "-") }) {
                regex += #"\S+"#
                rest = rest[rest.index(after: close)...]
                continue outer
            }
            // Every ASCII punctuation character quoted with a backslash (a literal in ICU's
            // syntax); letters, digits, spaces and non-ASCII characters stand for themselves.
            let character = rest.first ?? " "
            if character.isASCII, character.isPunctuation || character.isSymbol {
                regex += "\\"
            }
            regex.append(character)
            rest = rest.dropFirst()
        }
        return try NSRegularExpression(pattern: "^" + regex + "$")
    }

    static func lineMatches(_ expected: String, _ actual: String) throws -> Bool {
        let regex = try pattern(expected)
        return regex.firstMatch(in: actual, range: NSRange(actual.startIndex..., in: actual)) != nil
    }

    /// Whether `actual` matches `expected`, where a line `...` stands for any lines (none too).
    static func matches(expected: [String], actual: [String]) throws -> Bool {
        let want = normalized(expected)
        let have = normalized(actual)
        var memo: [Int: Bool] = [:]
        func match(_ i: Int, _ j: Int) throws -> Bool {
            let key = i * (have.count + 1) + j
            if let known = memo[key] { return known }
            let result: Bool
            if i == want.count {
                result = j == have.count
            } else if want[i] == "..." {
                result = try match(i + 1, j) || (j < have.count && match(i, j + 1))
            } else {
                result = try j < have.count && lineMatches(want[i], have[j]) && match(i + 1, j + 1)
            }
            memo[key] = result
            return result
        }
        return try match(0, 0)
    }
}

import Foundation
import Testing

/// README.md's commands, run as written, so that what a newcomer pastes keeps working.
///
/// Conventions (the README's tour says them briefly): every ```sh block runs, in order, in one
/// bash with `set -euo pipefail`, in a scratch home, from the project's root; a ```text block
/// between an sh block and the next one is that block's expected output (standard output and
/// error together), line by line, where `<id>` is hex, `<time>` a timestamp, `<n>` a number,
/// `<duration>` a duration as drctl writes it ("9 s", "4 min 5 s"), any other `<word>` a run of
/// non-blank characters, a line `...` any number of lines, and
/// runs of spaces match any spacing. The first sh block, the two set-up commands, is not run
/// (it installs packages and builds): it is checked against the scripts and CI instead.
@Suite("README.md")
struct ReadmeTests {
    struct Block {
        var number: Int
        var line: Int
        var script: String
        var expected: [String]?
    }

    static var readmePath: String { "\(ProjectRoot.path)/README.md" }

    /// The sh blocks of a Markdown text, each with the text block that follows it, if any.
    static func blocks(_ markdown: String) -> [Block] {
        var blocks: [Block] = []
        var fence: (kind: String, start: Int, lines: [String])?
        for (index, raw) in markdown.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if var open = fence {
                if trimmed == "```" {
                    if open.kind == "sh" {
                        blocks.append(Block(number: blocks.count + 1, line: open.start,
                                            script: open.lines.joined(separator: "\n")))
                    } else if open.kind == "text", !blocks.isEmpty, blocks[blocks.count - 1].expected == nil {
                        blocks[blocks.count - 1].expected = open.lines
                    }
                    fence = nil
                } else {
                    open.lines.append(line)
                    fence = open
                }
            } else if trimmed.hasPrefix("```") {
                fence = (String(trimmed.dropFirst(3)), index + 1, [])
            }
        }
        return blocks
    }

    /// Whether `actual` (the whole output) is what `expected` describes: the runbooks' rules.
    static func matches(_ expected: [String], _ actual: [String]) throws -> Bool {
        try RunbookOutput.matches(expected: expected, actual: actual)
    }

    @Test("the expected-output convention: placeholders, elisions and spacing match, a changed word does not")
    func matcherConvention() throws {
        let output = ["snapshot 29d8571855aeecf9 at 2026-12-07T04:33:44.098Z", "  3 mailboxes (0 unchanged)",
                      "noise", "  took 1.34 s"]
        #expect(try Self.matches(["snapshot <id> at <time>", "...", "took <n> s"], output))
        #expect(try Self.matches(["snapshot <id>   at <time>", "3 mailboxes (0 unchanged)", "noise", "took <n> s"], output))
        #expect(try !Self.matches(["snapshot <id> at <time>", "took <n> s"], output), "lines left out need ...")
        #expect(try !Self.matches(["snapshot <id> at <time>", "...", "took <n> minutes"], output))
        #expect(try !Self.matches(["image <id> at <time>", "..."], output))
        #expect(try !Self.matches(["snapshot <n> at <time>", "..."], ["snapshot zz at 2026-12-07T04:33:44Z"]))
        #expect(try Self.matches(["lag <duration>, worst <duration>", "took <duration>"], ["lag 4 min 5 s, worst 9 s", "took 0.25 s"]))
        #expect(try !Self.matches(["lag <duration>"], ["lag 4 minutes"]))
    }

    @Test("the two set-up commands name real scripts, and CI runs exactly the README's test command")
    func setUpCommands() throws {
        let blocks = Self.blocks(try String(contentsOfFile: Self.readmePath, encoding: .utf8))
        let setUp = try #require(blocks.first, "README.md has no sh block")
        let commands = setUp.script.split(separator: "\n").map {
            String($0.split(separator: "#", maxSplits: 1).first ?? "").trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        #expect(commands == ["scripts/demo", "scripts/test"], "the README's first sh block: \(commands)")
        for command in commands {
            let path = "\(ProjectRoot.path)/\(command)"
            #expect(FileManager.default.isExecutableFile(atPath: path), "\(command) is not an executable script")
            let syntax = try BinaryRunner.run("/bin/bash", ["-n", path])
            #expect(syntax.status == 0, "\(command) is not valid bash: \(syntax.stderr)")
        }
        // .ci/run must run the README's test command itself, with nothing around it that
        // could make CI test something else.
        let ci = try String(contentsOfFile: "\(ProjectRoot.path)/.ci/run", encoding: .utf8)
        let steps = ci.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") && !$0.hasPrefix("set ") && !$0.hasPrefix("cd ") }
        let ciCommand = steps.last.map { step in
            step.split(separator: " ").filter { $0 != "exec" && $0 != "bash" }.joined(separator: " ")
        }
        #expect(steps.count == 1, ".ci/run should do nothing but the README's test command: \(steps)")
        #expect(ciCommand == commands.last, ".ci/run runs \(ciCommand ?? "nothing"), the README says \(commands.last ?? "")")
        // scripts/demo --s3, which the README promises, is an option of the demo.
        let demo = try String(contentsOfFile: "\(ProjectRoot.path)/scripts/demo", encoding: .utf8)
        #expect(demo.contains("--s3)"), "scripts/demo does not take --s3")
    }

    @Test("every sh block of the README runs as written, in order, and prints what the README shows")
    func tourRunsAsWritten() throws {
        // The tour runs on the embedded default, which a real configuration would replace.
        try #require(!FileManager.default.fileExists(atPath: "/etc/drctl/drctl.toml"),
                     "/etc/drctl/drctl.toml exists on this machine: the tour's embedded default would not be used")
        let blocks = Array(Self.blocks(try String(contentsOfFile: Self.readmePath, encoding: .utf8)).dropFirst())
        #expect(blocks.count >= 7, "the tour's sh blocks were not found: \(blocks.count)")
        #expect(blocks.filter { $0.expected != nil }.count >= 6, "the tour's expected outputs were not found")

        let home = try TemporaryHome()
        let outputs = "\(home.root)/outputs"
        let scratch = "\(home.root)/tmp"
        try FileManager.default.createDirectory(atPath: outputs, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        var script = "set -euo pipefail\n"
        for block in blocks {
            script += "echo \(block.number) > '\(outputs)/current'\n{\n\(block.script)\n} > '\(outputs)/\(block.number)' 2>&1\n"
        }
        let python = (try Python.require() as NSString).deletingLastPathComponent
        let environment = [
            "HOME": home.root,
            "TMPDIR": scratch,
            "PATH": "\(BinaryRunner.productsDirectory):\(python):/usr/bin:/bin",
            "LANG": "C.UTF-8",
        ]
        let result = try BinaryRunner.run("/bin/bash", ["-c", script], environment: environment,
                                          inheritEnvironment: false, currentDirectory: ProjectRoot.path)
        let current = (try? String(contentsOfFile: "\(outputs)/current", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        func output(_ number: Int) -> String {
            (try? String(contentsOfFile: "\(outputs)/\(number)", encoding: .utf8)) ?? ""
        }
        if result.status != 0 {
            let failed = blocks.first { String($0.number) == current }
            Issue.record("""
                README.md's sh block at line \(failed?.line ?? 0) failed (exit \(result.status)):
                \(failed?.script ?? "")
                --- its output:
                \(failed.map { output($0.number) } ?? "")\(result.stderr)
                """)
            return
        }
        for block in blocks {
            guard let expected = block.expected else { continue }
            var lines = output(block.number).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if lines.last == "" { lines.removeLast() }
            #expect(try Self.matches(expected, lines), """
                README.md's sh block at line \(block.line) printed what its text block does not show:
                \(block.script)
                --- expected:
                \(expected.joined(separator: "\n"))
                --- printed:
                \(lines.joined(separator: "\n"))
                """)
        }
    }
}

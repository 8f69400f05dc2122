import Foundation
import Testing

/// Runs a runbook's ```sh blocks in order in one bash (`set -euo pipefail`), so that a variable
/// set in one block is there in the next, with each block's output (standard output and error
/// together, as a terminal shows them) kept apart for its ```output block.
struct RunbookRun {
    var status: Int32
    /// The output of each block that ran, in order.
    var outputs: [String]
    /// The index of the block that was running when bash stopped.
    var lastStarted: Int
    var stderr: String

    var transcript: String { outputs.enumerated().map { "--- block \($0.offset + 1)\n\($0.element)" }.joined(separator: "\n") }
    var allOutput: String { outputs.joined(separator: "\n") }
}

enum RunbookRunner {
    static func run(_ runbook: Runbook, environment: [String: String], in folder: String) throws -> RunbookRun {
        let work = "\(folder)/.runbook-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        var script = "set -euo pipefail\n"
        for (index, step) in runbook.steps.enumerated() {
            // The group runs in this shell (variables and `cd` carry over); errexit applies inside.
            script += "echo \(index) > '\(work)/current'\n{\n\(step.script)\n} > '\(work)/\(index).out' 2>&1\n"
        }
        var environment = environment
        environment["RUNBOOK_FILE"] = runbook.file
        let result = try BinaryRunner.run("/bin/bash", ["-c", script], environment: environment,
                                          inheritEnvironment: false, currentDirectory: folder)
        let started = Int((try? String(contentsOfFile: "\(work)/current", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? -1
        let outputs = (0...max(started, 0)).compactMap { try? String(contentsOfFile: "\(work)/\($0).out", encoding: .utf8) }
        return RunbookRun(status: result.status, outputs: outputs, lastStarted: started, stderr: result.stderr)
    }

    /// Output lines as a runbook shows them: the `<N>` journal priority drctl puts before a
    /// message when standard error is not a terminal is dropped, and so is the warning about
    /// plain http:// that only the test's loopback S3 servers cause.
    static func shown(_ output: String) -> [String] {
        output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            .filter { !$0.contains("is reached over plain http://") }
            .map { line in
                if line.count > 3, line.hasPrefix("<"), line.dropFirst(2).hasPrefix(">"), line.dropFirst().first?.isNumber == true {
                    return String(line.dropFirst(3))
                }
                return line
            }
    }

    /// Records an issue for a failed block or an output that differs from its ```output block.
    static func expectAsWritten(_ runbook: Runbook, _ run: RunbookRun) throws {
        let source = "runbooks/\(runbook.file)"
        for (index, step) in runbook.steps.enumerated() where index < run.outputs.count {
            guard let expected = step.expected else { continue }
            // A block that failed is reported below, not as a mismatch.
            if index == run.lastStarted && run.status != 0 { continue }
            let actual = shown(run.outputs[index])
            let matches = try RunbookOutput.matches(expected: expected, actual: actual)
            #expect(matches, """
                \(source):\(step.line): the output differs from the ```output block at line \(step.expectedLine ?? 0)
                expected:
                \(expected.joined(separator: "\n"))
                actual:
                \(actual.joined(separator: "\n"))
                """)
        }
        if run.status != 0 {
            let step = runbook.steps.indices.contains(run.lastStarted) ? runbook.steps[run.lastStarted] : nil
            Issue.record("""
                \(source):\(step?.line ?? 0): the block failed (bash exit \(run.status)):
                \(step?.script ?? "")
                its output:
                \(run.outputs.last ?? "")\(run.stderr)
                """)
        }
        #expect(run.outputs.count == runbook.steps.count || run.status != 0,
                "\(source): \(run.outputs.count) of \(runbook.steps.count) blocks ran")
    }
}

import DRBase
import DRRepository

/// The human drill report: one self-contained HTML5 page (docs/DRILL-REPORT.md).
///
/// Self-contained because it is evidence that is mailed, archived and opened years later,
/// offline: no network, no script, no external style or font. Its Content-Security-Policy
/// allows inline styles and data: images only, so that even a value that escaped escaping
/// could not run or fetch anything. Every value from the results goes through `HTMLText`.
///
/// The page is also well-formed XML (void elements closed, only the five XML references),
/// so that tests and auditors' tools can read it with an XML parser.
package enum DrillHTML {
    /// The page for a drill's results.
    /// - Parameters:
    ///   - sequence: the report's sequence number in the chain.
    ///   - envelopeSHA256: hex SHA-256 of the signed envelope's bytes as stored.
    ///   - history: past drills (oldest first or in any order; the current one is added, and
    ///     left out of `history` if there too, matched by its start time).
    ///   - verifyCommands: the exact commands that verify the envelope, shown as given.
    package static func render(_ results: DrillResults, sequence: Int, envelopeSHA256: String,
                               history: [DrillHistoryPoint], verifyCommands: [String]) -> String {
        let current = DrillHistoryPoint(sequence: sequence, results: results)
        var page = head(results, sequence: sequence)
        page += "<body>\n"
        page += verdictBanner(results, sequence: sequence)
        page += figures(results, sequence: sequence)
        page += deviations(results.deviations)
        page += charts(history: history, current: current)
        page += targets(results.targets)
        page += checks(results.targets)
        page += selection(results.selection)
        page += controls(results.controls)
        page += evidence(envelopeSHA256: envelopeSHA256, verifyCommands: verifyCommands)
        page += "</body>\n</html>\n"
        return page
    }

    private static func e(_ text: String) -> String { HTMLText.escape(text) }

    /// The verdict as a word and a sign, never by colour alone.
    static func badge(_ verdict: DrillResults.Verdict) -> String {
        #"<span class="v v-\#(verdict.rawValue)">\#(badgeSign(verdict)) \#(verdict.rawValue)</span>"#
    }

    private static func head(_ results: DrillResults, sequence: Int) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8"/>
        <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'"/>
        <meta name="referrer" content="no-referrer"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <meta name="generator" content="drctl"/>
        <title>Restore drill #\(sequence): \(results.verdict.rawValue.uppercased())</title>
        <style>
        \(DrillHTMLStyle.css)
        </style>
        </head>

        """
    }

    // MARK: - The verdict, first

    private static func verdictBanner(_ results: DrillResults, sequence: Int) -> String {
        let word = results.verdict.rawValue.uppercased()
        var lines: [String] = []
        switch results.verdict {
        case .pass: lines.append("Every check of every target passed, and the recovery objectives were met.")
        case .fail: lines.append("At least one check failed: the store could not be shown to be recoverable as required.")
        case .unknown: lines.append("Not a pass: at least one check could not run, and a check that did not run proves nothing.")
        }
        let perTarget = results.targets.map { target -> String in
            let counts = checkCounts(target)
            var text = "target \(e(target.name)): \(badge(target.verdict))"
            var parts: [String] = []
            if counts.fail > 0 { parts.append("\(counts.fail) check(s) failed") }
            if counts.unknown > 0 { parts.append("\(counts.unknown) could not run") }
            if let error = target.error { parts.append("not drilled: \(e(error))") }
            if !parts.isEmpty { text += " (" + parts.joined(separator: "; ") + ")" }
            return text
        }
        if !perTarget.isEmpty { lines.append(perTarget.joined(separator: "; ") + ".") }
        lines.append("RPO \(badge(results.rpo.verdict)): worst \(e(DrillFormat.duration(results.rpo.worstSeconds))) against \(e(DrillFormat.duration(Double(results.rpo.objectiveSeconds)))). RTO \(badge(results.rto.verdict)): projected full-store restore \(e(DrillFormat.duration(results.rto.projectedFullStoreSeconds))) against \(e(DrillFormat.duration(Double(results.rto.objectiveSeconds)))).")
        return """
            <header id="verdict" class="verdict verdict-\(results.verdict.rawValue)">
            <p class="kicker">drctl restore drill #\(sequence)\(results.scenario.map { " · " + e($0) } ?? ""), \(e(DrillFormat.time(results.started)))</p>
            <h1 id="verdict-word">\(badgeSign(results.verdict)) \(word)</h1>
            \(lines.map { "<p>\($0)</p>" }.joined(separator: "\n"))
            </header>

            """
    }

    private static func badgeSign(_ verdict: DrillResults.Verdict) -> String {
        switch verdict {
        case .pass: "✓"
        case .fail: "✗"
        case .unknown: "?"
        }
    }

    private static func checkCounts(_ target: DrillResults.TargetResult) -> (pass: Int, fail: Int, unknown: Int) {
        let all = target.mailboxes.flatMap(\.checks).map(\.verdict)
        return (all.filter { $0 == .pass }.count, all.filter { $0 == .fail }.count, all.filter { $0 == .unknown }.count)
    }

    // MARK: - Key figures

    private static func figures(_ results: DrillResults, sequence: Int) -> String {
        let rpo = results.rpo
        let rto = results.rto
        var rows: [(String, String)] = [
            ("Report", "#\(sequence)"),
            ("Started", e(DrillFormat.time(results.started))),
            ("Finished", e(DrillFormat.time(results.finished))),
            ("Recovery point", e(results.point.mode + (results.point.window.map { " \($0)" } ?? "")) + ": the store as of " + e(DrillFormat.time(results.point.time))),
            ("Achieved RPO", "\(badge(rpo.verdict)) worst \(e(DrillFormat.duration(rpo.worstSeconds)))\(rpo.worstMailbox.map { " (" + e($0) + ")" } ?? ""), median \(e(DrillFormat.duration(rpo.medianSeconds))); objective \(e(DrillFormat.duration(Double(rpo.objectiveSeconds))))"),
        ]
        if let canary = rpo.canary {
            rows.append(("Canary", "\(badge(canary.verdict)) \(e(canary.mailbox)): newest write \(canary.newestWrite.map { e(DrillFormat.time($0)) } ?? "not read"), age \(e(DrillFormat.duration(canary.ageSeconds)))"))
        } else {
            rows.append(("Canary", "none configured: the RPO rests on the snapshot records alone"))
        }
        rows += [
            ("RTO", "\(badge(rto.verdict)) projected full-store restore \(e(DrillFormat.duration(rto.projectedFullStoreSeconds))) (slowest target), slowest mailbox \(e(DrillFormat.duration(rto.worstMailboxSeconds))); objective \(e(DrillFormat.duration(Double(rto.objectiveSeconds))))"),
            ("Coverage", "of \(results.coverage.mailboxes) mailboxes, drilled within 30 days \(e(DrillFormat.percent(results.coverage.last30Days))), 90 days \(e(DrillFormat.percent(results.coverage.last90Days))), 365 days \(e(DrillFormat.percent(results.coverage.last365Days)))"),
            ("Scratch copies", scratch(results.scratch)),
        ]
        let body = rows.map { "<tr><th scope=\"row\">\($0.0)</th><td>\($0.1)</td></tr>" }.joined(separator: "\n")
        return """
            <section id="figures">
            <h2>Key figures</h2>
            <table class="figures">
            \(body)
            </table>
            </section>

            """
    }

    private static func scratch(_ scratch: DrillResults.Scratch) -> String {
        let path = "<code>\(e(scratch.path))</code>"
        if scratch.wiped && scratch.verified {
            return "\(badge(.pass)) restored copies in \(path) overwritten and removed, and the folder checked gone"
        }
        if scratch.wiped {
            return "\(badge(.unknown)) restored copies in \(path) overwritten and removed, but the removal was not checked"
        }
        return "\(badge(.fail)) restored copies in \(path) were NOT wiped: remove that folder, it holds restored mailboxes"
    }

    // MARK: - Deviations

    private static func deviations(_ deviations: [DrillResults.Deviation]) -> String {
        guard !deviations.isEmpty else {
            return """
                <section id="deviations">
                <h2>Deviations</h2>
                <p class="none">No deviation: nothing failed and nothing was left unchecked.</p>
                </section>

                """
        }
        let rows = deviations.map { d in
            "<tr class=\"deviation\"><td>\(d.target.map(e) ?? "—")</td><td class=\"path\">\(d.mailbox.map(e) ?? "—")</td><td class=\"path\">\(d.object.map { "<code>\(e($0))</code>" } ?? "—")</td><td>\(e(d.check))</td><td>\(badge(d.verdict))</td><td class=\"text\">\(e(d.cause))</td></tr>"
        }.joined(separator: "\n")
        return """
            <section id="deviations">
            <h2>Deviations (\(deviations.count))</h2>
            <table class="deviations">
            <thead><tr><th scope="col">Target</th><th scope="col">Mailbox</th><th scope="col">Object</th><th scope="col">Check</th><th scope="col">Verdict</th><th scope="col">Cause</th></tr></thead>
            <tbody>
            \(rows)
            </tbody>
            </table>
            </section>

            """
    }

    // MARK: - Charts

    private static func charts(history: [DrillHistoryPoint], current: DrillHistoryPoint) -> String {
        let rpoSamples = DrillCharts.samples(history: history, current: current, value: \.rpoWorstSeconds,
                                             secondary: \.canaryAgeSeconds, objective: \.rpoObjectiveSeconds)
        let hasCanary = rpoSamples.contains { $0.secondary != nil }
        let rpo = DrillCharts.Chart(
            id: "chart-rpo", title: "Achieved RPO", measure: "achieved RPO (worst mailbox)", objectiveName: "RPO objective",
            secondaryMeasure: hasCanary ? "canary age (newest canary write in the restored copy)" : nil, samples: rpoSamples)
        let rto = DrillCharts.Chart(
            id: "chart-rto", title: "Projected RTO", measure: "projected full-store RTO (slowest target)", objectiveName: "RTO objective",
            samples: DrillCharts.samples(history: history, current: current, value: \.rtoProjectedSeconds, objective: \.rtoObjectiveSeconds))
        let unreadable = history.filter { Timestamps.parse($0.time) == nil }.count
        let note = unreadable > 0 ? "<p class=\"note\">\(unreadable) past drill(s) with an unreadable time are not plotted.</p>\n" : ""
        let legend = #"<span class="key-line">—</span> measured · <span class="key-within">●</span> within the objective · <span class="key-over">◆</span> over the objective · <span class="key-objective">- -</span> objective · ? not measured"#
        return """
            <section id="charts">
            <h2>Over the last \(rpo.samples.count) drill(s)</h2>
            \(note)<figure>
            \(DrillCharts.svg(rpo))
            <figcaption>Achieved RPO: drill start minus the recovery point of the worst drilled mailbox\(hasCanary ? "; the canary's age, read from its restored copy, proves the recovery point from the data itself" : ""). \(legend)\(hasCanary ? #" · <span class="key-secondary">□</span> canary age"# : "")</figcaption>
            </figure>
            <figure>
            \(DrillCharts.svg(rto))
            <figcaption>Projected RTO: the whole store restored from the slowest target, projected from the throughput measured in the drill. \(legend)</figcaption>
            </figure>
            </section>

            """
    }

    // MARK: - Targets

    private static func targets(_ targets: [DrillResults.TargetResult]) -> String {
        let rows = targets.map { t in
            let assumptions = t.projectionAssumptions.isEmpty ? "" : "<ul class=\"assumptions\">" + t.projectionAssumptions.map { "<li>\(e($0))</li>" }.joined() + "</ul>"
            let error = t.error.map { "<p class=\"error\">Not drilled: \(e($0))</p>" } ?? ""
            return "<tr><th scope=\"row\">\(e(t.name))</th><td>\(badge(t.verdict))</td><td class=\"num\">\(t.mailboxes.count)</td><td class=\"num\">\(e(DrillFormat.throughput(t.throughputBytesPerSecond)))</td><td class=\"num\">\(e(DrillFormat.duration(t.projectedFullRestoreSeconds)))</td><td>\(error)\(assumptions)</td></tr>"
        }.joined(separator: "\n")
        return """
            <section id="targets">
            <h2>Targets</h2>
            <p>Each target is restored from independently: one target's damage cannot hide behind another's copy.</p>
            <table class="targets">
            <thead><tr><th scope="col">Target</th><th scope="col">Verdict</th><th scope="col">Mailboxes</th><th scope="col">Throughput</th><th scope="col">Projected full restore</th><th scope="col">Error, assumptions of the projection</th></tr></thead>
            <tbody>
            \(rows)
            </tbody>
            </table>
            </section>

            """
    }

    // MARK: - The table of checks

    private static func checks(_ targets: [DrillResults.TargetResult]) -> String {
        var out = "<section id=\"checks\">\n<h2>Checks</h2>\n"
        for target in targets {
            let counts = checkCounts(target)
            out += "<h3>Target \(e(target.name)) \(badge(target.verdict)) <small>\(counts.pass) passed, \(counts.fail) failed, \(counts.unknown) could not run</small></h3>\n"
            out += "<table class=\"checks\" data-target=\"\(e(target.name))\">\n"
            out += "<thead><tr><th scope=\"col\">Mailbox</th><th scope=\"col\">Check</th><th scope=\"col\">Verdict</th><th scope=\"col\">Detail</th></tr></thead>\n"
            if target.mailboxes.isEmpty {
                out += "<tbody><tr class=\"check\"><td colspan=\"4\">\(target.error.map { "No mailbox restored: \(e($0))" } ?? "No mailbox restored.")</td></tr></tbody>\n"
            }
            for mailbox in target.mailboxes {
                out += "<tbody class=\"mailbox\">\n"
                let rows = mailbox.checks.isEmpty ? [DrillResults.Check(name: "—", verdict: .unknown, detail: "no check ran")] : mailbox.checks
                for (index, check) in rows.enumerated() {
                    out += "<tr class=\"check\">"
                    if index == 0 {
                        out += "<th scope=\"rowgroup\" rowspan=\"\(rows.count)\" class=\"path\"><span class=\"name\">\(e(mailbox.path))</span>\(badge(mailbox.verdict))<span class=\"meta\">\(mailboxFacts(mailbox))</span></th>"
                    }
                    out += "<td>\(e(check.name))</td><td>\(badge(check.verdict))</td><td class=\"text\">\(check.detail.map(e) ?? "")</td></tr>\n"
                }
                out += "</tbody>\n"
            }
            out += "</table>\n"
        }
        return out + "</section>\n\n"
    }

    private static func mailboxFacts(_ mailbox: DrillResults.MailboxResult) -> String {
        var facts: [String] = [ByteSize.format(mailbox.bytes)]
        if let timing = mailbox.timing {
            facts.append("restored in \(DrillFormat.duration(timing.fetchSeconds)), checked in \(DrillFormat.duration(timing.verifySeconds))")
        }
        if let at = mailbox.consistentAt { facts.append("as of \(DrillFormat.time(at))") }
        if let cipher = mailbox.cipher { facts.append(cipher) }
        if let journal = mailbox.journal { facts.append(journal) }
        if let snapshot = mailbox.snapshot { facts.append("snapshot \(snapshot)") }
        return facts.map(e).joined(separator: " · ")
    }

    // MARK: - Selection, controls

    private static func selection(_ selection: DrillResults.Selection) -> String {
        let strata = selection.strata.map {
            "<tr><td>\(e($0.cipher))</td><td>\(e($0.journal))</td><td>\(e($0.size))</td><td class=\"num\">\($0.population)</td><td class=\"num\">\($0.chosen)</td></tr>"
        }.joined(separator: "\n")
        let how = selection.mode == "all" ? "Every mailbox" : "A sample of \(selection.sample)"
        return """
            <section id="selection">
            <h2>Selection</h2>
            <p>\(e(how)) of \(selection.population) mailboxes, seed <code>\(selection.seed)</code> (the same seed and recovery point select the same mailboxes again); \(selection.mailboxes.count) drilled, \(selection.rotated.count) of them because they were the longest undrilled.</p>
            <table class="strata">
            <thead><tr><th scope="col">Cipher</th><th scope="col">Journal</th><th scope="col">Size</th><th scope="col">Mailboxes</th><th scope="col">Drilled</th></tr></thead>
            <tbody>
            \(strata)
            </tbody>
            </table>
            </section>

            """
    }

    private static func controls(_ controls: [DrillResults.Control]) -> String {
        guard !controls.isEmpty else { return "" }
        let rows = controls.map { "<tr><td>\(e($0.check))</td><td>\($0.frameworks.map(e).joined(separator: "; "))</td></tr>" }.joined(separator: "\n")
        return """
            <section id="controls">
            <h2>Controls supported</h2>
            <table class="controls">
            <thead><tr><th scope="col">Check</th><th scope="col">Controls</th></tr></thead>
            <tbody>
            \(rows)
            </tbody>
            </table>
            </section>

            """
    }

    // MARK: - Evidence

    private static func evidence(envelopeSHA256: String, verifyCommands: [String]) -> String {
        let commands = verifyCommands.isEmpty
            ? "<p class=\"error\">No verification command was given with this page.</p>"
            : verifyCommands.map { "<pre><code class=\"verify-command\">\(e($0))</code></pre>" }.joined(separator: "\n")
        return """
            <section id="evidence">
            <h2>Evidence</h2>
            <p>This page is a reading of a signed report; the report is the evidence. Its envelope's SHA-256:</p>
            <p><code id="envelope-sha256">\(e(envelopeSHA256))</code></p>
            <p>Verify the signature and the chain with drctl, or with the independent verifier, using the public key only:</p>
            \(commands)
            </section>

            """
    }
}

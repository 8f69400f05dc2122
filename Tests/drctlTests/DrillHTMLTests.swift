import DRCore
import Foundation
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

/// The human drill report (issue 12): rendered through the binary (`drctl debug render-drill`,
/// the test aid until reports are shown by the report command), read back with an XML parser
/// (the page is well-formed XML as well as HTML5), and loaded in headless Chromium.
@Suite("HTML drill report")
struct DrillHTMLTests {
    /// Renders the fixture's drill and parses the page.
    private func rendered() throws -> (DrillHTMLFixture, XMLDocument, String) {
        let fixture = try DrillHTMLFixture()
        let result = try fixture.render()
        try #require(result.status == 0, "render-drill failed (\(result.status)): \(result.stderr)")
        #expect(result.stdout.contains("wrote \(fixture.htmlPath)"), "\(result.stdout)")
        let text = try String(contentsOfFile: fixture.htmlPath, encoding: .utf8)
        let document = try XMLDocument(data: Data(text.utf8), options: [])
        return (fixture, document, text)
    }

    private func nodes(_ document: XMLDocument, _ xpath: String) throws -> [XMLNode] {
        try document.nodes(forXPath: xpath)
    }

    private func strings(_ document: XMLDocument, _ xpath: String) throws -> [String] {
        try nodes(document, xpath).map { $0.stringValue ?? "" }
    }

    /// `[contains(concat(' ', @class, ' '), ' name ')]`: XPath 1's test for one class.
    private func hasClass(_ name: String) -> String { "contains(concat(' ', @class, ' '), ' \(name) ')" }

    @Test("the page: verdict first, deviations, the table of checks, two charts against the objective, hash and commands")
    func structure() throws {
        let (fixture, document, text) = try rendered()
        let results = fixture.results

        // Well-formed XML by a strict parser (Foundation's recovers from errors): an auditor's tools can read it.
        let python = try #require(Python.interpreter, "python3 is needed (scripts/setup)")
        let strict = try BinaryRunner.run(python, ["-c", "import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])", fixture.htmlPath])
        #expect(strict.status == 0, "not well-formed XML: \(strict.stderr)")

        // Self-contained: a strict CSP and nothing that loads or runs.
        let csp = try strings(document, "/html/head/meta[@http-equiv='Content-Security-Policy']/@content")
        #expect(csp.first?.contains("default-src 'none'") == true, "\(csp)")
        for element in ["script", "link", "iframe", "object", "embed", "img", "form"] {
            #expect(try nodes(document, "//\(element)").isEmpty, "the page has a \(element) element")
        }
        #expect(try nodes(document, "//@*[starts-with(name(), 'on')]").isEmpty, "an event handler attribute")
        #expect(!text.contains("http://") && !text.contains("https://"), "the page names a network address")

        // The verdict first, in words.
        let first = try #require(try nodes(document, "/html/body/*").first as? XMLElement)
        #expect(first.name == "header" && first.attribute(forName: "id")?.stringValue == "verdict")
        #expect(first.attribute(forName: "class")?.stringValue?.contains("verdict-fail") == true)
        #expect(try strings(document, "//h1[@id='verdict-word']").first == "✗ FAIL")
        let banner = first.stringValue ?? ""
        #expect(banner.contains("target site-b: ✗ fail (2 check(s) failed; 4 could not run)"), "\(banner)")
        #expect(banner.contains("target site-a: ✓ pass"), "\(banner)")

        // Deviations: target, mailbox, object, check, verdict, cause.
        let deviationRows = try nodes(document, "//table[\(hasClass("deviations"))]/tbody/tr")
        #expect(deviationRows.count == results.deviations.count)
        let firstDeviation = try strings(document, "//table[\(hasClass("deviations"))]/tbody/tr[1]/td")
        #expect(firstDeviation == ["site-b", "users/user04.db", DrillHTMLFixture.missingObject, "chunks-authenticated", "✗ fail",
                                   "the pack is missing on site-b: restore it from site-a with drctl sync"])

        // The table of checks: one table per target, one row per mailbox × check.
        let tables = try nodes(document, "//table[\(hasClass("checks"))]").compactMap { $0 as? XMLElement }
        #expect(tables.compactMap { $0.attribute(forName: "data-target")?.stringValue } == ["site-a", "site-b"])
        for (table, target) in zip(tables, results.targets) {
            let rows = try table.nodes(forXPath: "tbody/tr[\(hasClass("check"))]")
            #expect(rows.count == target.mailboxes.map(\.checks.count).reduce(0, +), "\(target.name)")
            let mailboxes = try table.nodes(forXPath: "tbody[\(hasClass("mailbox"))]")
            #expect(mailboxes.count == 30)
        }
        let failed = try strings(document, "//table[@data-target='site-b']/tbody[tr/th[starts-with(., 'users/user04.db')]]/tr/td[2]")
        #expect(failed == ["✗ fail", "? unknown", "? unknown", "? unknown", "? unknown"], "\(failed)")
        let passedSiteA = try strings(document, "//table[@data-target='site-a']/tbody/tr/td[2]")
        #expect(Set(passedSiteA) == ["✓ pass"])

        // Two charts, each with axes, units, the objective line and a titled point per measured drill.
        let charts = try nodes(document, "//section[@id='charts']//svg").compactMap { $0 as? XMLElement }
        #expect(charts.map { $0.attribute(forName: "id")?.stringValue ?? "" } == ["chart-rpo", "chart-rto"])
        let expectedPoints = [13, 12]   // 12 past drills and this one; one past RTO was not measured
        for (chart, points) in zip(charts, expectedPoints) {
            let id = chart.attribute(forName: "id")?.stringValue ?? ""
            #expect(try chart.nodes(forXPath: ".//path[\(hasClass("objective"))]").count == 1, "\(id)")
            let marks = try chart.nodes(forXPath: ".//*[\(hasClass("point"))]")
            #expect(marks.count == points, "\(id)")
            #expect(try chart.nodes(forXPath: ".//*[\(hasClass("point"))]/title").count == points, "\(id): a point without a title")
            #expect(try chart.nodes(forXPath: ".//*[\(hasClass("current"))]").count == 1, "\(id)")
            let labels = try chart.nodes(forXPath: ".//text[\(hasClass("axis-label"))]").map { $0.stringValue ?? "" }
            #expect(labels.contains("drill start (UTC)"), "\(id): \(labels)")
            // RPO up to 2 h: minutes; RTO up to its 4 h objective: hours.
            #expect(labels.contains { $0.hasSuffix(id == "chart-rpo" ? "(minutes)" : "(hours)") }, "\(id): \(labels)")
        }
        let rpo = try #require(charts.first)
        #expect(try rpo.nodes(forXPath: ".//text[\(hasClass("objective-label"))]").first?.stringValue == "objective 1 h")
        // Over the objective: the drill of 2026-12-01 (4100 s against 1 h) and this one is within.
        let over = try rpo.nodes(forXPath: ".//*[\(hasClass("point")) and \(hasClass("over"))]/title").map { $0.stringValue ?? "" }
        #expect(over.count == 2, "\(over)")
        #expect(over.contains { $0.hasPrefix("Drill #7, 2026-12-01 03:00:00 UTC: achieved RPO (worst mailbox) 1 h 8 min, objective 1 h") }, "\(over)")
        let current = try rpo.nodes(forXPath: ".//*[\(hasClass("current"))]/title").first?.stringValue ?? ""
        #expect(current.hasPrefix("Drill #13 (this report), 2026-12-07 03:00:00 UTC: achieved RPO (worst mailbox) 50 min"), "\(current)")
        // The canary's age beside it: a titled square per drill, this one's read from its restored copy.
        let canary = try rpo.nodes(forXPath: ".//*[\(hasClass("secondary"))]/title").map { $0.stringValue ?? "" }
        #expect(canary.count == 13, "\(canary)")
        #expect(canary.last == "Drill #13 (this report), 2026-12-07 03:00:00 UTC: canary age (newest canary write in the restored copy) 5 min, objective 1 h — within the objective", "\(canary)")
        #expect(try nodes(document, "//svg[@id='chart-rto']//*[\(hasClass("secondary"))]").isEmpty)
        let missing = try nodes(document, "//svg[@id='chart-rto']//text[\(hasClass("missing"))]/title").map { $0.stringValue ?? "" }
        #expect(missing.count == 1 && missing[0].hasPrefix("Drill #4, 2026-11-28"), "\(missing)")

        // The envelope's SHA-256, computed here by another implementation, and the commands as given.
        let sum = try BinaryRunner.run("sha256sum", [fixture.envelopePath])
        let expected = String(sum.stdout.prefix(64))
        #expect(expected.count == 64, "\(sum.stderr)")
        #expect(try strings(document, "//code[@id='envelope-sha256']") == [expected])
        #expect(try strings(document, "//section[@id='evidence']//pre/code[\(hasClass("verify-command"))]") == fixture.verifyCommands)
    }

    @Test("hostile mailbox names, details and causes are text, never markup")
    func escaping() throws {
        let (_, document, text) = try rendered()
        // Nothing the names or causes carry became an element or an attribute.
        #expect(try nodes(document, "//script | //img | //b").isEmpty)
        #expect(!text.contains("<script"), "unescaped <script")
        #expect(!text.contains("<img"), "unescaped <img")

        let headers = try strings(document, "//table[@data-target='site-a']/tbody/tr/th")
        func header(_ prefix: String) -> String? { headers.first { $0.hasPrefix(prefix) } }
        // The text a reader sees is the name, character for character.
        #expect(header(DrillHTMLFixture.hostileScript) != nil, "\(headers.prefix(20))")
        #expect(header(DrillHTMLFixture.hostileQuotes) != nil)
        #expect(header(DrillHTMLFixture.hostileLong) != nil, "the long name is cut")
        // Controls and direction overrides are shown, not obeyed.
        #expect(header("users/bell⟨U+0007⟩esc⟨U+001B⟩[31mnew⟨U+000A⟩line.db") != nil, "\(headers.filter { $0.contains("bell") })")
        #expect(header("users/⟨U+202E⟩bd.exe.db") != nil)
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" } && !text.contains("\u{202E}"))

        // The hostile cause, in the deviations and in the check's detail, as text.
        let causes = try strings(document, "//table[\(hasClass("deviations"))]/tbody/tr/td[6]")
        #expect(causes.last == DrillHTMLFixture.hostileCause)
        let detail = try strings(document, "//table[@data-target='site-b']/tbody/tr/td[3]")
        #expect(detail.contains(DrillHTMLFixture.hostileCause))
        // The scenario, in the verdict's first line.
        #expect(try strings(document, "//header[@id='verdict']/p[1]").first?.contains("quarterly <restore> test & review") == true)
    }

    @Test("the page renders in headless Chromium: verdict, table and charts in the DOM, and a screenshot")
    func chromium() throws {
        let (fixture, _, _) = try rendered()
        let browser = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
        // Not skipped: the report's rendering is part of what is tested (scripts/setup installs it).
        let chromium = try #require(browser, "Chromium is not installed: run scripts/setup (Debian's chromium package)")
        let profile = "\(fixture.home.root)/chromium-profile"
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                      "--user-data-dir=\(profile)", "--window-size=1280,2000"]
        let url = URL(fileURLWithPath: fixture.htmlPath).absoluteString

        let dump = try fixture.home.run(chromium, common + ["--dump-dom", url])
        try #require(dump.status == 0, "chromium --dump-dom failed (\(dump.status)): \(dump.stderr.suffix(2000))")
        let dom = dump.stdout
        #expect(dom.contains(#"<header id="verdict" class="verdict verdict-fail">"#), "\(dom.prefix(2000))")
        #expect(dom.contains(#"<h1 id="verdict-word">✗ FAIL</h1>"#))
        #expect(dom.components(separatedBy: #"<table class="checks""#).count - 1 == 2)
        let checks = fixture.results.targets.flatMap(\.mailboxes).map(\.checks.count).reduce(0, +)
        #expect(checks == 280)
        #expect(dom.components(separatedBy: #"<tr class="check">"#).count - 1 == checks)
        #expect(dom.components(separatedBy: "<svg ").count - 1 == 2)
        #expect(dom.contains(#"id="chart-rpo""#) && dom.contains(#"id="chart-rto""#))
        #expect(dom.components(separatedBy: #"class="objective""#).count - 1 == 2)
        // The browser's parser, not only ours, found no element in the hostile input.
        #expect(!dom.contains("<script") && !dom.contains("<img"))
        #expect(dom.contains("&lt;script&gt;alert(\"owned\")&lt;/script&gt;"))

        // DRCTL_DRILL_SCREENSHOT=/tmp/x.png keeps the screenshot (and the page, as /tmp/x.png.html) to look at.
        let kept = ProcessInfo.processInfo.environment["DRCTL_DRILL_SCREENSHOT"]
        let screenshot = kept ?? "\(fixture.home.root)/report.png"
        if let kept {
            try? FileManager.default.removeItem(atPath: kept + ".html")
            try FileManager.default.copyItem(atPath: fixture.htmlPath, toPath: kept + ".html")
        }
        try? FileManager.default.removeItem(atPath: screenshot)
        let shot = try fixture.home.run(chromium, common + ["--hide-scrollbars", "--screenshot=\(screenshot)", url])
        try #require(shot.status == 0, "chromium --screenshot failed (\(shot.status)): \(shot.stderr.suffix(2000))")
        let png = try #require(FileManager.default.contents(atPath: screenshot), "no screenshot at \(screenshot)")
        // A PNG of the window's size, and not one colour (a blank page compresses to a few KiB).
        #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        let bytes = [UInt8](png)
        func be32(_ at: Int) -> Int { bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
        #expect(bytes.count > 24 && be32(16) == 1280 && be32(20) == 2000, "size \(be32(16))×\(be32(20))")
        #expect(png.count > 50_000, "the screenshot is \(png.count) bytes: a blank page?")
    }

    @Test("a target that could not be drilled: unknown, never a pass, and the page says why")
    func unreachableTarget() throws {
        let fixture = try DrillHTMLFixture()
        var results = fixture.results
        let cause = "site-b: connection refused by s3.example.internal:9000 on every retry"
        results.targets = [results.targets[0],
                           .init(name: "site-b", verdict: .unknown, error: cause, mailboxes: [], throughputBytesPerSecond: nil,
                                 projectedFullRestoreSeconds: nil, projectionAssumptions: [])]
        results.deviations = [.init(target: "site-b", mailbox: nil, object: nil, check: "reachable", verdict: .unknown, cause: cause)]
        results.rto.projectedFullStoreSeconds = nil
        results.rto.verdict = .unknown
        results.verdict = .combined(results.targets.map(\.verdict))
        #expect(results.verdict == .unknown)
        try fixture.write(results)
        let result = try fixture.render()
        try #require(result.status == 0, "\(result.stderr)")
        let document = try XMLDocument(data: Data(contentsOf: URL(fileURLWithPath: fixture.htmlPath)), options: [])

        #expect(try strings(document, "//h1[@id='verdict-word']") == ["? UNKNOWN"])
        let banner = try strings(document, "//header[@id='verdict']").first ?? ""
        #expect(banner.contains("Not a pass"), "\(banner)")
        #expect(banner.contains("target site-b: ? unknown (not drilled: \(cause))"), "\(banner)")
        #expect(try strings(document, "//table[@data-target='site-b']/tbody/tr/td") == ["No mailbox restored: \(cause)"])
        // Throughput and projection of site-b: not measured (th is the name, then verdict, mailboxes, throughput, projection).
        #expect(try strings(document, "//table[\(hasClass("targets"))]/tbody/tr[2]/td[position() = 3 or position() = 4]") == ["not measured", "not measured"])
        // This drill's RTO is not plotted as a value: a "?" in its place.
        let missing = try strings(document, "//svg[@id='chart-rto']//text[\(hasClass("missing"))]/title")
        #expect(missing.contains { $0.hasPrefix("Drill #13 (this report)") && $0.contains("not measured") }, "\(missing)")
    }

    @Test("results that are missing or of the wrong shape are named, with the field")
    func badInput() throws {
        let fixture = try DrillHTMLFixture()
        let missing = try fixture.home.drctl(["debug", "render-drill", "--results", "\(fixture.home.root)/none.json",
                                              "--html", fixture.htmlPath])
        #expect(missing.status == 66, "\(missing.stderr)")
        #expect(missing.stderr.contains("the drill results file \(fixture.home.root)/none.json does not exist"), "\(missing.stderr)")

        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture.resultsPath))) as? [String: Any])
        var targets = try #require(object["targets"] as? [[String: Any]])
        targets[1]["verdict"] = "maybe"
        object["targets"] = targets
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: fixture.resultsPath))
        let wrong = try fixture.home.drctl(["debug", "render-drill", "--results", fixture.resultsPath, "--html", fixture.htmlPath])
        #expect(wrong.status == 65, "\(wrong.stderr)")
        #expect(wrong.stderr.contains("at targets[1].verdict"), "\(wrong.stderr)")
        #expect(!FileManager.default.fileExists(atPath: fixture.htmlPath))
    }
}

import DRCore
import DRTestSupport
import Foundation
import Testing

/// The whole of issue 12 in one pass, through the binary, on two real S3 targets (SeaweedFS and
/// radosgw): a canary, a backup, a drill that restores every mailbox from each target, its
/// signed report verified by drctl against the targets' heads and by the independent Python
/// verifier, and its HTML page rendered by headless Chromium.
@Suite("drill evidence end to end")
struct DrillEvidenceEndToEndTests {
    @Test("drill on two S3 targets: pass, a signed report both verifiers accept, an HTML page Chromium renders")
    func drillReportVerifyRender() throws {
        let (seaweed, radosgw) = (try S3TestServer.named("seaweedfs"), try S3TestServer.named("radosgw"))
        let home = try BackupHome(specs: [.s3("eu-west", server: seaweed), .s3("eu-north", server: radosgw)])
        let mailboxes = try home.generate(cipher: "all", journal: "all", count: 1, messages: 150, seed: 12)
        try home.replaceConfig {
            $0 + "\n[drill]\ncanary = \"\(DrillTests.canary)\"\nsigning_key_file = \"\(home.signingKeyFile)\"\nreport_dir = \"\(home.reportFolder)\"\n"
        }
        try home.initRepository()
        _ = try DrillTests.canary(home)
        _ = try home.backupOK()

        let (result, results) = try DrillTests.drill(home, ["--all", "--seed", "7", "--scenario", "quarterly restore test"])
        #expect(result.status == 0, "drill exit \(result.status): \(result.stderr)\n\(results.deviations)")
        #expect(results.verdict == .pass)
        #expect(results.targets.allSatisfy { $0.verdict == .pass && $0.mailboxes.count == mailboxes.count + 1 })
        DrillTests.expectScratchGone(results, home)
        try #require(home.reportFiles().count == 1, "the drill left no signed report: \(home.reportFiles())")

        // drctl: signatures, chain, and the heads the two targets hold.
        let verified = try home.drctl(["report", "verify", "--against-targets", "--json"])
        #expect(verified.status == 0, "report verify --against-targets: \(verified.stdout)\(verified.stderr)")
        // The auditor's own verifier, from docs/AUDIT.md alone, with the public key only.
        let publicKey = try home.publicKeyFile()
        let python = try home.pythonVerify(publicKey: publicKey)
        #expect(python.ok, "the Python verifier refused the drill's report: \(python.output)")

        // The human report: the verdict first, the checks, two charts; Chromium renders it.
        let page = "\(home.root)/drill-1.html"
        let shown = try home.drctl(["report", "show", "1", "--html", page])
        try #require(shown.status == 0, "report show --html: \(shown.stderr)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        #expect(html.contains("✓ PASS") && html.contains("quarterly restore test"))
        #expect(html.components(separatedBy: "<svg ").count - 1 == 2)
        #expect(!html.contains("<script"))
        let browser = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let chromium = try #require(browser, "Chromium is not installed: run scripts/setup (Debian's chromium package)")
        let dump = try home.home.run(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                                "--no-first-run", "--user-data-dir=\(home.root)/chromium", "--dump-dom",
                                                URL(fileURLWithPath: page).absoluteString])
        #expect(dump.status == 0, "chromium: \(dump.stderr.suffix(1000))")
        #expect(dump.stdout.contains("✓ PASS") && dump.stdout.contains(#"id="chart-rpo""#), "\(dump.stdout.prefix(1500))")

        // One pack removed from one target (with boto3, as damage would): that target fails,
        // naming the mailbox and the object; the other passes; the verdict says which.
        let location = try TargetBucket.of(config: home.config, target: "eu-north")
        let removed = try Boto3.run("""
            keys = sorted(o["Key"] for p in c.get_paginator("list_objects_v2").paginate(Bucket=args[0], Prefix=args[1] + "/data/")
                          for o in p.get("Contents", []))
            c.delete_object(Bucket=args[0], Key=keys[0])
            print(keys[0][len(args[1]) + 1:])
            """, server: radosgw, arguments: [location.bucket, location.prefix]).trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(removed.hasPrefix("data/"), "no pack to remove: \(removed)")
        let (damaged, damagedResults) = try DrillTests.drill(home, ["--all", "--seed", "8"])
        #expect(damaged.status == 3, "drill exit \(damaged.status): \(damaged.stderr)")
        #expect(damagedResults.verdict == .fail)
        #expect(damagedResults.targets.first { $0.name == "eu-west" }?.verdict == .pass)
        #expect(damagedResults.targets.first { $0.name == "eu-north" }?.verdict == .fail)
        // Which mailbox loses what depends on what that pack held (chunks of one mailbox, or
        // the list every mailbox is found through); either way the deviations name eu-north and
        // the mailboxes, and an object when they name one is the removed pack.
        let north = damagedResults.deviations.filter { $0.target == "eu-north" && $0.verdict == .fail }
        #expect(north.contains { $0.mailbox != nil }, "no deviation on eu-north names a mailbox: \(damagedResults.deviations)")
        // An S3 target names the object by its key in the bucket, the target's prefix included.
        #expect(north.allSatisfy { $0.object == nil || $0.object?.hasSuffix(removed) == true }, "\(north)")
        #expect(!damagedResults.deviations.contains { $0.target == "eu-west" && $0.verdict == .fail })
        #expect(home.reportFiles().count == 2)
        let chain = try home.drctl(["report", "verify", "--against-targets"])
        #expect(chain.status == 0, "the chain of a passing and a failing drill: \(chain.stdout)\(chain.stderr)")

        // drctl status reads the drill's verdict: the failed one now.
        let status = try home.drctl(["status", "--json"])
        #expect(status.stdout.contains(#""verdict" : "fail""#) || status.stdout.contains(#""verdict":"fail""#), "\(status.stdout)")
    }
}

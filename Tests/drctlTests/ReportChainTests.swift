import DRTestSupport
import Foundation
import Testing

// The signed, hash-chained drill reports (issue 12), end to end through the binary: reports
// made by `debug sign-drill` (what a drill does at its end), verified by `report verify` and
// by the independent Python verifier, then damaged in each way an auditor must catch.

/// A DrillResults document (the schema of Sources/DRCore/DrillResults.swift) naming `mailboxes`.
enum DrillResultsFixture {
    static func json(mailboxes: [String], verdict: String = "pass") -> String {
        let quoted = mailboxes.map { "\"\($0)\"" }.joined(separator: ",")
        let results = mailboxes.map { path in
            """
            {"path":"\(path)","bytes":4096,"cipher":"none","journal":"wal",
             "timing":{"fetchSeconds":0.1,"verifySeconds":0.05,"totalSeconds":0.15},
             "checks":[{"name":"integrity-check","verdict":"\(verdict)","detail":"\(path): ok"}],"verdict":"\(verdict)"}
            """
        }.joined(separator: ",")
        return """
            {"scenario":"chain test","started":"2026-12-07T01:00:00.000Z","finished":"2026-12-07T01:05:00.000Z",
             "point":{"mode":"latest","time":"2026-12-07T01:00:00.000Z"},
             "selection":{"seed":7,"mode":"sample","sample":\(mailboxes.count),"population":\(mailboxes.count),"strata":[],
                          "mailboxes":[\(quoted)],"rotated":[]},
             "targets":[{"name":"site-a","verdict":"\(verdict)","mailboxes":[\(results)],"projectionAssumptions":["fixed overhead 2 s"]}],
             "rpo":{"objectiveSeconds":3600,"worstSeconds":120,"medianSeconds":60,"worstMailbox":"\(mailboxes.first ?? "")","verdict":"\(verdict)"},
             "rto":{"objectiveSeconds":14400,"worstMailboxSeconds":0.15,"verdict":"\(verdict)"},
             "deviations":[\(mailboxes.first.map { "{\"mailbox\":\"\($0)\",\"check\":\"integrity-check\",\"verdict\":\"\(verdict)\",\"cause\":\"\($0) was read\"}" } ?? "")],
             "controls":[{"check":"integrity-check","frameworks":["NIST SP 800-53 CP-9(1)"]}],
             "coverage":{"mailboxes":\(mailboxes.count),"last30Days":1,"last90Days":1,"last365Days":1},
             "scratch":{"path":"/tmp/drill-scratch","wiped":true,"verified":true},"verdict":"\(verdict)"}
            """
    }
}

extension BackupHome {
    var reportFolder: String { "\(root)/reports" }
    var signingKeyFile: String { "\(root)/drill-signing.key" }

    /// Adds `[drill]` with a signing key (created by init) and a report folder in the home.
    func enableDrillReports() throws {
        try replaceConfig { $0 + "\n[drill]\nsigning_key_file = \"\(signingKeyFile)\"\nreport_dir = \"\(reportFolder)\"\n" }
    }

    /// `debug sign-drill`: the next report of the chain; returns its local file.
    @discardableResult
    func signDrill(mailboxes: [String], verdict: String = "pass") throws -> String {
        let file = "\(root)/results-\(UUID().uuidString).json"
        try DrillResultsFixture.json(mailboxes: mailboxes, verdict: verdict).write(toFile: file, atomically: true, encoding: .utf8)
        let result = try drctl(["debug", "sign-drill", "--results", file, "--json"])
        try #require(result.status == 0, "sign-drill failed (\(result.status)): \(result.stderr)")
        let recorded = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let copies = recorded["targets"] as? [[String: Any]] ?? []
        #expect(!copies.isEmpty && copies.allSatisfy { $0["report"] as? Bool == true && $0["head"] as? Bool == true },
                "not every target got the report and its head: \(result.stdout)")
        return try #require(recorded["path"] as? String)
    }

    /// The local report files, in chain order.
    func reportFiles() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: reportFolder)) ?? [])
            .filter { $0.hasSuffix(".dsse.json") && !$0.hasPrefix("head-") }.sorted()
    }

    /// `report public-key` written to a file, as an auditor receives it.
    func publicKeyFile() throws -> String {
        let result = try drctl(["report", "public-key"])
        try #require(result.status == 0, "report public-key failed: \(result.stderr)")
        let path = "\(root)/drill-signing.pub"
        try result.stdout.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The independent verifier (scripts/lib/tests/verify_drill_reports.py) on a report folder.
    func pythonVerify(publicKey: String, folder: String? = nil, heads: String? = nil) throws -> (ok: Bool, output: String) {
        let python = try Python.require()
        let result = try home.run(python, ["\(ProjectRoot.path)/scripts/lib/tests/verify_drill_reports.py", "--public-key", publicKey]
                                  + (heads.map { ["--heads", $0] } ?? []) + [folder ?? reportFolder])
        #expect(result.status == 0 || result.status == 1, "the Python verifier crashed (\(result.status)): \(result.stderr)")
        return (result.status == 0, result.stdout + result.stderr)
    }
}

@Suite("drill report chain: signed, hash-chained, anchored on the targets", .serialized)
struct ReportChainTests {
    static let mailboxes = ["users/alice@example.com/inbox.db", "users/bob/archive.db"]

    /// A home with two folder targets, a repository and a chain of three reports.
    static func chainOfThree(_ specs: [TestTarget] = [.file("site-a"), .file("site-b")]) throws -> BackupHome {
        let home = try BackupHome(specs: specs)
        try home.enableDrillReports()
        try home.initRepository()
        for _ in 0..<3 { try home.signDrill(mailboxes: mailboxes) }
        try #require(home.reportFiles().count == 3, "\(home.reportFiles())")
        return home
    }

    func verify(_ home: BackupHome, _ extra: [String] = []) throws -> ProcessResult {
        try home.drctl(["report", "verify"] + extra)
    }

    @Test("a chain of three verifies with drctl and with the independent Python verifier; targets hold the same bytes, without the mailbox names")
    func chainVerifies() throws {
        let home = try Self.chainOfThree()
        let verified = try verify(home, ["--against-targets", "--json"])
        #expect(verified.status == 0, "\(verified.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(verified.stdout.utf8)) as? [String: Any])
        let rows = try #require(report["reports"] as? [[String: Any]])
        #expect(rows.count == 3 && rows.allSatisfy { $0["signature"] as? Bool == true }, "\(verified.stdout)")
        let targets = try #require(report["targets"] as? [[String: Any]])
        #expect(targets.count == 2 && targets.allSatisfy { $0["newest"] as? Int == 3 && $0["heads"] as? Int == 3 }, "\(verified.stdout)")

        let publicKey = try home.publicKeyFile()
        let python = try home.pythonVerify(publicKey: publicKey, heads: "\(home.targetFolder("site-b"))/reports")
        #expect(python.ok, "\(python.output)")
        #expect(python.output.contains("\"reports\": 3"), "\(python.output)")
        // The auditor's way: the public key file only, on a copy of a target's folder.
        let pinned = try verify(home, ["--all", "--public-key", publicKey])
        #expect(pinned.status == 0, "\(pinned.stderr)")
        let fromTarget = try home.pythonVerify(publicKey: publicKey, folder: "\(home.targetFolder("site-a"))/reports")
        #expect(fromTarget.ok, "\(fromTarget.output)")

        for name in home.reportFiles() {
            let local = try Files.read("\(home.reportFolder)/\(name)")
            for target in ["site-a", "site-b"] {
                let copy = try Files.read("\(home.targetFolder(target))/reports/\(name)")
                #expect(copy == local, "\(target) holds other bytes for \(name)")
                let text = String(decoding: copy, as: UTF8.self) + String(decoding: Data(base64Encoded: Self.payload(of: copy)) ?? Data(), as: UTF8.self)
                for mailbox in Self.mailboxes {
                    #expect(!text.contains(mailbox) && !text.contains("alice"), "\(target)/reports/\(name) names \(mailbox)")
                }
            }
        }
        // A segment of the chain given as files: 2 and 3 link; 1 and 3 leave a gap.
        let files = home.reportFiles().map { "\(home.reportFolder)/\($0)" }
        let segment = try verify(home, [files[2], files[1]])
        #expect(segment.status == 0, "\(segment.stderr)")
        let gap = try verify(home, [files[0], files[2]])
        #expect(gap.status == 3 && gap.stderr.contains("report 2 is missing"), "\(gap.stderr)")

        // Locally, show reveals the names (from the 0600 names file); a second key is refused.
        let shown = try home.drctl(["report", "show", "2"])
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains(Self.mailboxes[0]) && shown.stdout.contains("verdict PASS"), "\(shown.stdout)")
        let otherKey = "\(home.root)/other.pub"
        try "# another key\n\(String(repeating: "ab", count: 32))\n".write(toFile: otherKey, atomically: true, encoding: .utf8)
        let wrongKey = try verify(home, ["--public-key", otherKey])
        #expect(wrongKey.status == 3 && wrongKey.stderr.contains("report.signature"), "\(wrongKey.status) \(wrongKey.stderr)")
    }

    static func payload(of envelope: [UInt8]) -> String {
        let object = try? JSONSerialization.jsonObject(with: Data(envelope)) as? [String: Any]
        return object?["payload"] as? String ?? ""
    }

    @Test("any byte of a stored report altered: verify fails naming the file (drctl and Python)")
    func alteredByte() throws {
        let home = try Self.chainOfThree()
        let publicKey = try home.publicKeyFile()
        let name = home.reportFiles()[1]
        let path = "\(home.reportFolder)/\(name)"
        let original = try Files.read(path)
        // Bytes in the JSON framing, the payload type, the payload, the signature and the end.
        let payloadStart = (String(decoding: original, as: UTF8.self).range(of: "\"payload\":\"")?.upperBound.utf16Offset(in: String(decoding: original, as: UTF8.self))) ?? 12
        let offsets = [0, 5, payloadStart + 40, payloadStart + 400, original.count / 2, original.count - 30, original.count - 2, original.count - 1]
        for offset in offsets {
            var altered = original
            altered[offset] = altered[offset] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            try Data(altered).write(to: URL(fileURLWithPath: path))
            let result = try verify(home)
            #expect(result.status == 3 || result.status == 65, "byte \(offset): exit \(result.status) \(result.stderr)")
            #expect(result.stderr.contains(name), "byte \(offset): the message does not name \(name): \(result.stderr)")
            let python = try home.pythonVerify(publicKey: publicKey)
            #expect(!python.ok && python.output.contains(name), "byte \(offset): \(python.output)")
        }
        try Data(original).write(to: URL(fileURLWithPath: path))
        #expect(try verify(home).status == 0)
    }

    @Test("a names file altered (a mailbox path exchanged): verify fails naming it (drctl and Python)")
    func alteredNames() throws {
        let home = try Self.chainOfThree()
        let names = home.reportFiles()[0].replacingOccurrences(of: ".dsse.json", with: ".names.json")
        let path = "\(home.reportFolder)/\(names)"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try #require(text.contains(Self.mailboxes[1]), "\(text)")
        try text.replacingOccurrences(of: Self.mailboxes[1], with: "users/mallory/archive.db").write(toFile: path, atomically: true, encoding: .utf8)
        let result = try verify(home)
        #expect(result.status == 3 && result.stderr.contains("report.names") && result.stderr.contains(names), "\(result.stderr)")
        let python = try home.pythonVerify(publicKey: try home.publicKeyFile())
        #expect(!python.ok && python.output.contains(names), "\(python.output)")
    }

    @Test("a report deleted from the middle of the chain: verify fails naming the missing sequence")
    func deletedFromTheMiddle() throws {
        let home = try Self.chainOfThree()
        let name = home.reportFiles()[1]
        try FileManager.default.removeItem(atPath: "\(home.reportFolder)/\(name)")
        let result = try verify(home)
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains("report.chain") && result.stderr.contains("report 2 is missing"), "\(result.stderr)")
        let python = try home.pythonVerify(publicKey: try home.publicKeyFile())
        #expect(!python.ok && python.output.contains("not the next sequence"), "\(python.output)")
        // The targets still hold it: their head names the gap too.
        let against = try verify(home, ["--against-targets"])
        #expect(against.status == 3 && against.stderr.contains("which the local chain lacks"), "\(against.stderr)")
    }

    @Test("two reports swapped: verify fails naming both files")
    func swapped() throws {
        let home = try Self.chainOfThree()
        let files = home.reportFiles()
        let second = "\(home.reportFolder)/\(files[1])", third = "\(home.reportFolder)/\(files[2])"
        let a = try Files.read(second), b = try Files.read(third)
        try Data(b).write(to: URL(fileURLWithPath: second))
        try Data(a).write(to: URL(fileURLWithPath: third))
        let result = try verify(home)
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains("\(files[1]) holds report 3, not report 2"), "\(result.stderr)")
        #expect(result.stderr.contains("\(files[2]) holds report 2, not report 3"), "\(result.stderr)")
        let python = try home.pythonVerify(publicKey: try home.publicKeyFile())
        #expect(!python.ok && python.output.contains("name says sequence"), "\(python.output)")
    }

    @Test("the newest report deleted locally: the chain alone still verifies, --against-targets fails naming the target and sequence")
    func newestDeletedLocally() throws {
        let home = try Self.chainOfThree()
        let newest = home.reportFiles()[2]
        try FileManager.default.removeItem(atPath: "\(home.reportFolder)/\(newest)")
        try FileManager.default.removeItem(atPath: "\(home.reportFolder)/head-000003.dsse.json")
        // A truncated chain is a valid chain: only the heads held elsewhere reveal it.
        #expect(try verify(home).status == 0)
        let result = try verify(home, ["--against-targets"])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains("report.head") && result.stderr.contains("target site-a")
                && result.stderr.contains("report 3") && result.stderr.contains("local chain ends at report 2"), "\(result.stderr)")
        let python = try home.pythonVerify(publicKey: try home.publicKeyFile(), heads: "\(home.targetFolder("site-a"))/reports")
        #expect(!python.ok && python.output.contains("newer than its newest"), "\(python.output)")

        // The next report continues from the targets' head, so the chain does not fork.
        try home.signDrill(mailboxes: Self.mailboxes)
        #expect(home.reportFiles().last?.hasPrefix("000004-") == true, "\(home.reportFiles())")
    }

    @Test("the key holder rewrites report 2 (validly signed, correctly named): report 3's previous hash and the targets' heads contradict it")
    func rewrittenBySigner() throws {
        let home = try Self.chainOfThree()
        let publicKey = try home.publicKeyFile()
        let old = home.reportFiles()[1]
        // Re-signed with the real seed by an implementation of the documented format: the
        // verdict flipped, the file renamed after its new hash.
        let python = try Python.require()
        let forged = try home.home.run(python, ["-c", """
            import base64, hashlib, json, os, sys
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
            folder, name, seed_file = sys.argv[1:4]
            envelope = json.load(open(os.path.join(folder, name)))
            payload = json.loads(base64.b64decode(envelope["payload"]))
            payload["drill"]["verdict"] = "fail"
            body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
            kind = envelope["payloadType"].encode()
            key = Ed25519PrivateKey.from_private_bytes(open(seed_file, "rb").read())
            sig = key.sign(b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body))
            envelope["payload"] = base64.b64encode(body).decode()
            envelope["signatures"][0]["sig"] = base64.b64encode(sig).decode()
            raw = (json.dumps(envelope, sort_keys=True, separators=(",", ":")) + "\\n").encode()
            os.remove(os.path.join(folder, name))
            new = "%s-%s.dsse.json" % (name[:6], hashlib.sha256(raw).hexdigest()[:12])
            open(os.path.join(folder, new), "wb").write(raw)
            print(new)
            """, home.reportFolder, old, home.signingKeyFile])
        try #require(forged.status == 0, "forging failed: \(forged.stderr)")
        let new = forged.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(home.reportFiles().contains(new) && !home.reportFiles().contains(old), "\(home.reportFiles())")

        let result = try verify(home)
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains("report.chain") && result.stderr.contains("(report 3) names the previous report's hash")
                && result.stderr.contains(new), "\(result.stderr)")
        #expect(!result.stderr.contains("report.signature"), "the forged report's signature is valid: \(result.stderr)")
        let against = try verify(home, ["--against-targets"])
        #expect(against.stderr.contains("is not the report whose head target site-a holds"), "\(against.stderr)")
        let independent = try home.pythonVerify(publicKey: publicKey, heads: "\(home.targetFolder("site-a"))/reports")
        #expect(!independent.ok && independent.output.contains("previous hash is not the SHA-256")
                && independent.output.contains("head names another report hash"), "\(independent.output)")
    }

    @Test("a target missing during a drill: the report is kept locally and on the other target; verify --against-targets warns of the lagging target and passes")
    func targetDownDuringTheDrill() throws {
        let home = try BackupHome()
        try home.enableDrillReports()
        try home.initRepository()
        try home.signDrill(mailboxes: Self.mailboxes)
        let folder = home.targetFolder("site-b")
        try FileManager.default.moveItem(atPath: folder, toPath: folder + ".away")
        let file = "\(home.root)/results.json"
        try DrillResultsFixture.json(mailboxes: Self.mailboxes).write(toFile: file, atomically: true, encoding: .utf8)
        let signed = try home.drctl(["debug", "sign-drill", "--results", file, "--json"])
        #expect(signed.status == 0, "\(signed.stderr)")
        let recorded = try #require(try JSONSerialization.jsonObject(with: Data(signed.stdout.utf8)) as? [String: Any])
        let copies = try #require(recorded["targets"] as? [[String: Any]])
        #expect(copies.first { $0["target"] as? String == "site-a" }?["head"] as? Bool == true, "\(signed.stdout)")
        #expect(copies.first { $0["target"] as? String == "site-b" }?["report"] as? Bool == false, "\(signed.stdout)")
        #expect(signed.stderr.contains("target site-b") && signed.stderr.contains("not stored"), "\(signed.stderr)")
        try FileManager.default.moveItem(atPath: folder + ".away", toPath: folder)

        let result = try verify(home, ["--against-targets"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("target site-b: its newest chain head is report 1, the local chain's is 2"), "\(result.stderr)")
    }

    @Test("without a signing key the report is recorded unsigned, and verify says so")
    func unsigned() throws {
        let home = try BackupHome()
        try home.initRepository()
        let publicKeySource = try BackupHome()
        try publicKeySource.enableDrillReports()
        try publicKeySource.initRepository()
        try home.replaceConfig { $0 + "\n[drill]\nreport_dir = \"\(home.reportFolder)\"\n" }
        try home.signDrill(mailboxes: Self.mailboxes)
        let result = try verify(home, ["--public-key", try publicKeySource.publicKeyFile()])
        #expect(result.status == 3 && result.stderr.contains("unsigned"), "\(result.status) \(result.stderr)")
        let status = try home.drctl(["status", "--json"])
        #expect(status.stdout.contains("\"verdict\" : \"pass\""), "latest.json not written: \(status.stdout)")
    }

    @Test("two S3 targets (SeaweedFS, radosgw with Object Lock): reports and heads on both, the heads retained; the newest deleted locally is detected against them")
    func s3Targets() throws {
        let seaweed = try S3TestServer.named("seaweedfs"), radosgw = try S3TestServer.named("radosgw")
        let lockBucket = try #require(radosgw.lockBucket, "radosgw has no Object Lock bucket")
        let home = try Self.chainOfThree([.s3("eu-west", server: seaweed),
                                          .s3("eu-north", server: radosgw, bucket: lockBucket,
                                              extra: "object_lock = { mode = \"governance\", days = 1 }")])
        let verified = try verify(home, ["--against-targets", "--json"])
        #expect(verified.status == 0, "\(verified.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(verified.stdout.utf8)) as? [String: Any])
        let targets = try #require(report["targets"] as? [[String: Any]])
        #expect(Set(targets.compactMap { $0["target"] as? String }) == ["eu-west", "eu-north"], "\(verified.stdout)")
        #expect(targets.allSatisfy { $0["newest"] as? Int == 3 }, "\(verified.stdout)")
        for (server, target) in [(seaweed, "eu-west"), (radosgw, "eu-north")] {
            let keys = try Boto3Listing.objects(server: server, config: home.config, target: target).map(\.key)
            #expect(keys.filter { $0.contains("/reports/head-") }.count == 3, "\(target): \(keys)")
            #expect(keys.filter { $0.hasSuffix(".dsse.json") }.count == 3, "\(target): \(keys)")
        }
        // On the Object Lock target every head carries a retention (read by boto3, not drctl).
        let location = try TargetBucket.of(config: home.config, target: "eu-north")
        let retained = try Boto3.run("""
            for n in range(1, 4):
                h = c.head_object(Bucket=args[0], Key="%s/reports/head-%06d" % (args[1], n))
                print(h.get("ObjectLockMode"), h.get("ObjectLockRetainUntilDate") is not None)
            """, server: radosgw, arguments: [location.bucket, location.prefix])
        #expect(retained.split(separator: "\n").filter { $0 == "GOVERNANCE True" }.count == 3, "\(retained)")

        let newest = home.reportFiles()[2]
        try FileManager.default.removeItem(atPath: "\(home.reportFolder)/\(newest)")
        let result = try verify(home, ["--against-targets"])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains("report.head") && result.stderr.contains("local chain ends at report 2"), "\(result.stderr)")
    }
}

import DRTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A scenario made ready for a runbook: the home its commands run in, the environment they
/// get (DRCTL_CONFIG and the runbook's variables), and what must hold once they have run.
struct PreparedScenario {
    var home: BackupHome
    var environment: [String: String]
    var verify: (RunbookRun) throws -> Void = { _ in }
}

/// The scenarios a runbook can name in its `<!-- scenario: … -->` comment (runbooks/README.md
/// lists them). Each one builds, with the real parts (gen-mailstore, drctl, the S3 servers of
/// scripts/s3-servers), the situation the runbook is for.
enum RunbookScenario: String, CaseIterable {
    case mailboxChanged = "mailbox-changed"
    case targetMissedABackup = "target-missed-a-backup"
    case newS3Bucket = "new-s3-bucket"
    case mailServerLost = "mail-server-lost"
    case regionLost = "region-lost"
    case ransomware = "ransomware"
    case keySuspected = "key-suspected"
    case drillFailedAndRPOMissed = "drill-failed-and-rpo-missed"
    case configurationLost = "configuration-lost"
    case auditorRequest = "auditor-request"

    func prepare(_ runbook: Runbook) throws -> PreparedScenario {
        switch self {
        case .mailboxChanged: try Self.mailboxChanged(runbook)
        case .targetMissedABackup: try Self.targetMissedABackup(runbook)
        case .newS3Bucket: try Self.newS3Bucket(runbook)
        case .mailServerLost: try Self.mailServerLost(runbook)
        case .regionLost: try Self.regionLost(runbook)
        case .ransomware: try Self.ransomware(runbook)
        case .keySuspected: try Self.keySuspected(runbook)
        case .drillFailedAndRPOMissed: try Self.drillFailedAndRPOMissed(runbook)
        case .configurationLost: try Self.configurationLost(runbook)
        case .auditorRequest: try Self.auditorRequest(runbook)
        }
    }

    /// What every runbook's shell gets: the home's private HOME, drctl and the Python that
    /// runs gen-mailstore on PATH, the configuration, and the source tree (for the verifier).
    static func environment(_ home: BackupHome) -> [String: String] {
        var environment = home.home.environment
        let drctl = (Drctl.binary as NSString).deletingLastPathComponent
        let python = Python.interpreter.map { ($0 as NSString).deletingLastPathComponent + ":" } ?? ""
        environment["PATH"] = "\(drctl):\(python)/usr/local/bin:/usr/bin:/bin"
        environment["DRCTL_CONFIG"] = home.config
        environment["DRCTL_SOURCE"] = ProjectRoot.path
        return environment
    }

    static func uid(_ path: String) -> uid_t? {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_uid : nil
    }

    static var nobody: uid_t? { getpwnam("nobody").map { $0.pointee.pw_uid } }

    /// Mailbox images as they are now, through `drctl image` (the store is quiescent).
    static func images(_ home: BackupHome, _ mailboxes: [GeneratedMailbox]) throws -> [String: [UInt8]] {
        var images: [String: [UInt8]] = [:]
        let folder = "\(home.root)/images-\(UUID().uuidString.prefix(8))"
        for mailbox in mailboxes {
            let file = "\(folder)/\(mailbox.path)"
            try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try home.snapshotImage(mailbox.path, to: file)
            images[mailbox.path] = try Files.read(file)
        }
        return images
    }

    /// A moment strictly between two backups (their times have millisecond granularity).
    static func momentNow() -> String {
        sleep(1)
        defer { sleep(1) }
        return Millis.format(Int64(Date().timeIntervalSince1970 * 1000))
    }

    // MARK: - The scenarios

    /// Two folder targets; two backups, a mailbox changed between them.
    static func mailboxChanged(_ runbook: Runbook) throws -> PreparedScenario {
        let home = try BackupHome()
        let mailboxes = try home.generate(cipher: "chacha20", journal: "wal", count: try runbook.mailboxes(default: 2),
                                          messages: 120, subfolder: "users")
        try home.initRepository()
        _ = try home.backupOK()
        try home.write(mailboxes[0], transactions: 3, seed: 9)
        _ = try home.backupOK()
        let live = "\(home.store)/\(mailboxes[0].path)"
        let before = try Files.read(live)
        let staging = "\(home.root)/staging"
        var environment = environment(home)
        environment["MAILBOX"] = mailboxes[0].path
        environment["AT"] = "now"
        environment["STAGING"] = staging
        environment["STORE"] = home.store
        environment["OWNER"] = "nobody"
        return PreparedScenario(home: home, environment: environment) { _ in
            let restored = "\(staging)/\(mailboxes[0].path)"
            let verdicts = try home.verify([restored], cipher: "chacha20")
            #expect(verdicts.first?.problems.isEmpty == true)
            #expect(verdicts.first?.counter == 3, "the restore should hold the 3 transactions of the last backup")
            // Step 5 put the image in the live store, the old file moved aside, owned by OWNER.
            #expect(try Files.read(live) == Files.read(restored))
            let folder = (live as NSString).deletingLastPathComponent
            let name = (live as NSString).lastPathComponent
            let aside = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix(name + ".drctl-aside-") }
            #expect(aside.count == 1, "the live mailbox was moved aside: \(aside)")
            if let moved = aside.first {
                #expect(try Files.read("\(folder)/\(moved)") == before)
            }
            #expect(uid(live) != nil && uid(live) == nobody)
            let record = try Data(contentsOf: URL(fileURLWithPath: "\(staging)/restore-record.json"))
            let rows = try JSONSerialization.jsonObject(with: record) as? [[String: Any]]
            #expect(rows?.count == 2)
        }
    }

    /// Two folder targets; site-b was away (an unmounted share) for the second backup.
    static func targetMissedABackup(_ runbook: Runbook) throws -> PreparedScenario {
        let home = try BackupHome()
        let mailboxes = try home.generate(cipher: "chacha20", journal: "wal", count: try runbook.mailboxes(default: 2), messages: 80)
        try home.initRepository()
        _ = try home.backupOK()
        try home.takeAway("site-b")
        try home.write(mailboxes[0], transactions: 3, seed: 4)
        let (missed, _) = try home.backup()
        try #require(missed.status == 2, "\(missed.stderr)")
        try home.bringBack("site-b")
        return PreparedScenario(home: home, environment: environment(home)) { run in
            #expect(run.allOutput.contains("would copy"), "\(run.allOutput)")
            let (siteB, siteA) = (try home.objects(of: "site-b"), try home.objects(of: "site-a"))
            #expect(siteB == siteA)
        }
    }

    /// One folder target with a repository, and a bucket of the loopback SeaweedFS to add.
    static func newS3Bucket(_ runbook: Runbook) throws -> PreparedScenario {
        let seaweed = try S3TestServer.named("seaweedfs")
        let home = try BackupHome(targets: ["site-a"])
        let mailboxes = try home.generate(cipher: "chacha20", journal: "wal", count: try runbook.mailboxes(default: 2),
                                          messages: 80, seed: 12)
        try home.initRepository()
        _ = try home.backupOK()
        // Step 3 is done by hand: the test writes the file the operator would.
        let credentials = try home.home.secretFile("offsite.credentials", seaweed.credentialsFileText())
        var environment = environment(home)
        environment["TARGET"] = "offsite"
        environment["BUCKET"] = seaweed.bucket
        environment["PREFIX"] = "runbook-\(UUID().uuidString.lowercased().prefix(12))"
        environment["ENDPOINT"] = seaweed.endpoint
        environment["REGION"] = seaweed.region
        environment["CREDENTIALS"] = credentials
        environment["EXTRA_KEYS"] = "allow_insecure_http = true"
        return PreparedScenario(home: home, environment: environment) { run in
            #expect(!run.allOutput.contains(seaweed.secretAccessKey) && !run.stderr.contains(seaweed.secretAccessKey))
            // The new target holds the whole repository: the snapshot restores from it alone.
            let (restored, report) = try home.restore(["--target", "offsite", "--to", "\(home.root)/from-offsite"])
            #expect(restored.status == 0, "\(restored.stderr)")
            #expect(report?.restored.count == mailboxes.count)
            #expect(report?.restored.allSatisfy { $0.target == "offsite" } == true)
        }
    }

    /// Two S3 regions (SeaweedFS and radosgw) as targets of the given buckets.
    static func twoRegions(lock: Bool = false) throws -> BackupHome {
        let (seaweed, radosgw) = (try S3TestServer.named("seaweedfs"), try S3TestServer.named("radosgw"))
        let extra = lock ? "object_lock = { mode = \"governance\", days = 1 }" : ""
        var buckets: (west: String?, north: String?) = (nil, nil)
        if lock {
            let west = try #require(seaweed.lockBucket, "servers.json names no Object Lock bucket for seaweedfs")
            let north = try #require(radosgw.lockBucket, "servers.json names no Object Lock bucket for radosgw")
            buckets = (west, north)
        }
        return try BackupHome(specs: [
            .s3("eu-west", server: seaweed, bucket: buckets.west, extra: extra),
            .s3("eu-north", server: radosgw, bucket: buckets.north, extra: extra),
        ])
    }

    /// Sets `[state] host`, as a machine with a name of its own.
    static func setHost(_ home: BackupHome, _ host: String) throws {
        try home.replaceConfig { $0.replacingOccurrences(of: "[state]\n", with: "[state]\nhost = \"\(host)\"\n") }
    }

    /// Two S3 regions hold the backups of host mail1; then the mail server is gone: its store,
    /// its state, its configuration and secrets (copies of which were kept in KEPT).
    static func mailServerLost(_ runbook: Runbook) throws -> PreparedScenario {
        let home = try twoRegions()
        try setHost(home, "mail1")
        // One mailbox of each cipher (gen-mailstore makes `count` of each).
        let mailboxes = try home.generate(cipher: "all", journal: "wal", count: max(1, try runbook.mailboxes(default: 3) / 3),
                                          messages: 100, seed: 23, subfolder: "users")
        try home.initRepository()
        _ = try home.backupOK()
        let expected = try images(home, mailboxes)
        let kept = "\(home.root)/kept"
        try FileManager.default.createDirectory(atPath: kept, withIntermediateDirectories: true)
        for file in [home.config, home.repositoryKeyFile, "\(home.root)/eu-west.credentials", "\(home.root)/eu-north.credentials"] {
            try FileManager.default.moveItem(atPath: file, toPath: "\(kept)/\((file as NSString).lastPathComponent)")
        }
        try FileManager.default.removeItem(atPath: home.store)
        try FileManager.default.removeItem(atPath: "\(home.root)/state")
        var environment = environment(home)
        environment["KEPT"] = kept
        environment["OLD_HOST"] = "mail1"
        environment["STORE"] = home.store
        environment["OWNER"] = "nobody"
        return PreparedScenario(home: home, environment: environment) { _ in
            for (path, bytes) in expected {
                #expect(try Files.read("\(home.store)/\(path)") == bytes, "\(path) is not back as it was backed up")
                #expect(uid("\(home.store)/\(path)") == nobody, "\(path) does not belong to OWNER")
            }
            let rows = try home.snapshots()
            #expect(rows.count == 2, "the new host's backup should follow the old host's: \(rows.map(\.id))")
        }
    }

    /// Two S3 regions; then eu-north's region is gone (its endpoint answers nothing), and a
    /// bucket in a third region (a new prefix on radosgw) is to take its place.
    static func regionLost(_ runbook: Runbook) throws -> PreparedScenario {
        let radosgw = try S3TestServer.named("radosgw")
        let home = try twoRegions()
        let mailboxes = try home.generate(cipher: "chacha20", journal: "wal", count: try runbook.mailboxes(default: 3),
                                          messages: 100, seed: 31, subfolder: "users")
        try home.initRepository()
        _ = try home.backupOK()
        let expected = try images(home, mailboxes)
        // The region is unreachable: connections to its endpoint are refused.
        try home.replaceConfig { $0.replacingOccurrences(of: "endpoint = \"\(radosgw.endpoint)\"", with: "endpoint = \"http://127.0.0.1:9\"") }
        let credentials = try home.home.secretFile("eu-south.credentials", radosgw.credentialsFileText())
        let staging = "\(home.root)/staging"
        var environment = environment(home)
        environment["LOST"] = "eu-north"
        environment["SURVIVOR"] = "eu-west"
        environment["STAGING"] = staging
        environment["TARGET"] = "eu-south"
        environment["BUCKET"] = radosgw.bucket
        environment["PREFIX"] = "runbook-\(UUID().uuidString.lowercased().prefix(12))"
        environment["ENDPOINT"] = radosgw.endpoint
        environment["REGION"] = radosgw.region
        environment["CREDENTIALS"] = credentials
        environment["EXTRA_KEYS"] = "allow_insecure_http = true"
        return PreparedScenario(home: home, environment: environment) { _ in
            for (path, bytes) in expected {
                #expect(try Files.read("\(staging)/\(path)") == bytes, "\(path) restored from the survivor differs")
            }
            let config = try String(contentsOfFile: home.config, encoding: .utf8)
            #expect(!config.contains("name = \"eu-north\""), "the lost target is still configured")
            let (restored, report) = try home.restore(["--target", "eu-south", "--to", "\(home.root)/from-eu-south"])
            #expect(restored.status == 0, "\(restored.stderr)")
            #expect(report?.restored.count == mailboxes.count && report?.restored.allSatisfy { $0.target == "eu-south" } == true)
        }
    }

    /// Two S3 regions on buckets with Object Lock; a clean backup, then an attack: one mailbox
    /// overwritten, one deleted, a backup of the damage, and the attacker's attempt to delete
    /// a retained snapshot record with the stolen S3 credentials.
    static func ransomware(_ runbook: Runbook) throws -> PreparedScenario {
        let seaweed = try S3TestServer.named("seaweedfs")
        let home = try twoRegions(lock: true)
        let mailboxes = try home.generate(cipher: "all", journal: "wal", count: max(1, try runbook.mailboxes(default: 3) / 3),
                                          messages: 100, seed: 41, subfolder: "users")
        try home.initRepository()
        _ = try home.backupOK()
        let expected = try images(home, mailboxes)
        let before = momentNow()
        let destroyed = "\(home.store)/\(mailboxes[0].path)"
        try Data((0..<200_000).map { _ in UInt8.random(in: 0...255) }).write(to: URL(fileURLWithPath: destroyed))
        try FileManager.default.removeItem(atPath: "\(home.store)/\(mailboxes[1].path)")
        _ = try home.backup()
        // The attacker deletes the first snapshot record's version with the stolen key: refused.
        let location = try TargetBucket.of(config: home.config, target: "eu-west")
        let attempt = try Boto3.run("""
            keys = [o["Key"] for o in c.list_objects_v2(Bucket=args[0], Prefix=args[1] + "/snapshots/").get("Contents", [])]
            versions = c.list_object_versions(Bucket=args[0], Prefix=keys[0]).get("Versions", [])
            try:
                c.delete_object(Bucket=args[0], Key=keys[0], VersionId=versions[0]["VersionId"])
                print("deleted")
            except Exception as error:
                print("refused", type(error).__name__)
            """, server: seaweed, arguments: [location.bucket, location.prefix])
        #expect(attempt.hasPrefix("refused"), "the retained snapshot record was deleted: \(attempt)")
        var environment = environment(home)
        environment["BEFORE"] = before
        environment["MAILBOX"] = mailboxes[0].path
        environment["STAGING"] = "\(home.root)/staging"
        environment["STORE"] = home.store
        environment["OWNER"] = "nobody"
        return PreparedScenario(home: home, environment: environment) { _ in
            for (path, bytes) in expected {
                let restored = try Files.read("\(home.store)/\(path)")
                #expect(restored == bytes, "\(path) is not back as before the attack")
            }
            let aside = (try? FileManager.default.contentsOfDirectory(atPath: (destroyed as NSString).deletingLastPathComponent)) ?? []
            #expect(aside.contains { $0.hasPrefix((destroyed as NSString).lastPathComponent + ".drctl-aside-") },
                    "the attacked file was not kept aside: \(aside)")
        }
    }

    /// Two folder targets and a key file that may have been copied by someone else.
    static func keySuspected(_ runbook: Runbook) throws -> PreparedScenario {
        let home = try BackupHome()
        let mailboxes = try home.generate(cipher: "chacha20", journal: "wal", count: try runbook.mailboxes(default: 2), messages: 80)
        try home.initRepository()
        _ = try home.backupOK()
        let suspect = "\(home.root)/suspect-copy.key"
        try FileManager.default.copyItem(atPath: home.repositoryKeyFile, toPath: suspect)
        let oldID = try home.home.listKeys(["--config", home.config]).first?.id
        var environment = environment(home)
        environment["NEW_KEY"] = "\(home.root)/keys/repository-2.key"
        environment["FRESH_KEY"] = "\(home.root)/keys/repository-new.key"
        environment["OLD_CONFIG"] = "\(home.root)/drctl-old-repository.toml"
        environment["SUFFIX"] = "2026-12"
        return PreparedScenario(home: home, environment: environment) { _ in
            // The old repository opens with the new wrapping only; the suspect copy is refused.
            let old = "\(home.root)/drctl-old-repository.toml"
            let keys = try home.home.listKeys(["--config", old])
            #expect(keys.count == 1 && keys.first?.id != oldID, "\(keys.map(\.id))")
            let refused = try home.home.drctl(["snapshots", "--config", old, "--key-file", suspect])
            #expect(refused.status == 77, "the suspect key still opens the old repository: \(refused.stdout)\(refused.stderr)")
            // The configuration now names a new repository that holds the current store.
            let fresh = try home.home.drctl(["snapshots", "--config", home.config, "--key-file", suspect])
            #expect(fresh.status == 77, "the suspect key opens the new repository")
            let (restored, report) = try home.restore(["--to", "\(home.root)/from-new-repository"])
            #expect(restored.status == 0 && report?.restored.count == mailboxes.count, "\(restored.stderr)")
        }
    }

    /// Two folder targets, a canary and signed drills, an RPO of one minute; a pack lost on
    /// site-b, a drill that failed because of it, and no backup for over a minute.
    static func drillFailedAndRPOMissed(_ runbook: Runbook) throws -> PreparedScenario {
        let home = try BackupHome()
        try home.replaceConfig {
            $0 + "\n[objectives]\nrpo = \"1m\"\n\n[drill]\ncanary = \"canary.db\"\nsigning_key_file = \"\(home.signingKeyFile)\"\nreport_dir = \"\(home.reportFolder)\"\n"
        }
        _ = try home.generate(cipher: "chacha20", journal: "wal", count: try runbook.mailboxes(default: 3), messages: 80,
                              seed: 17, subfolder: "users")
        try home.initRepository()
        let canary = try home.drctl(["canary"])
        try #require(canary.status == 0, "\(canary.stderr)")
        _ = try home.backupOK()
        let started = Date()
        let pack = try #require(Files.packs(in: home.targetFolder("site-b")).first)
        try FileManager.default.removeItem(atPath: "\(home.targetFolder("site-b"))/\(pack)")
        let drill = try home.drctl(["drill", "--all", "--seed", "3"])
        try #require(drill.status == 3, "the drill should fail on site-b: \(drill.status) \(drill.stderr)")
        // The objective is one minute: wait until the newest backup is older than that.
        let waited = Date().timeIntervalSince(started)
        if waited < 63 { usleep(useconds_t((63 - waited) * 1_000_000)) }
        return PreparedScenario(home: home, environment: environment(home)) { _ in
            let objects = try home.objects(of: "site-b")
            #expect(objects.keys.contains(pack), "sync did not bring \(pack) back to site-b")
            #expect(home.reportFiles().count == 2)
        }
    }

    /// Two S3 regions and signed drills; then the configuration, its secrets and the state
    /// are lost; KEPT holds what runbooks/the-configuration-was-lost.md says to keep.
    static func configurationLost(_ runbook: Runbook) throws -> PreparedScenario {
        let home = try twoRegions()
        try setHost(home, "mail1")
        try home.enableDrillReports()
        let mailboxes = try home.generate(cipher: "chacha20", journal: "wal", count: try runbook.mailboxes(default: 2),
                                          messages: 80, seed: 29, subfolder: "users")
        try home.initRepository()
        _ = try home.backupOK()
        let drill = try home.drctl(["drill", "--all"])
        try #require(drill.status == 0, "\(drill.stderr)")
        let publicKey = try home.publicKeyFile()
        let kept = "\(home.root)/kept"
        try FileManager.default.createDirectory(atPath: kept, withIntermediateDirectories: true)
        let config = try String(contentsOfFile: home.config, encoding: .utf8)
        // The record of each target: name, url, endpoint, region (no secret).
        var record = ""
        for block in config.components(separatedBy: "[[target]]").dropFirst() {
            func value(_ key: String) -> String {
                block.split(separator: "\n").first { $0.hasPrefix("\(key) = ") }
                    .map { String($0.dropFirst(key.count + 3)).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) } ?? ""
            }
            record += "\(value("name")) \(value("url")) \(value("endpoint")) \(value("region"))\n"
        }
        try record.write(toFile: "\(kept)/targets.txt", atomically: true, encoding: .utf8)
        for file in [home.repositoryKeyFile, home.signingKeyFile, publicKey, "\(home.root)/eu-west.credentials",
                     "\(home.root)/eu-north.credentials"] {
            try FileManager.default.moveItem(atPath: file, toPath: "\(kept)/\((file as NSString).lastPathComponent)")
        }
        try FileManager.default.removeItem(atPath: home.config)
        try FileManager.default.removeItem(atPath: "\(home.root)/state")
        try FileManager.default.removeItem(atPath: home.reportFolder)
        var environment = environment(home)
        environment["KEPT"] = kept
        environment["ETC"] = "\(home.root)/etc"
        environment["DRCTL_CONFIG"] = "\(home.root)/etc/drctl.toml"
        environment["STORE"] = home.store
        environment["INCLUDE"] = "**/*.db"
        environment["STATE"] = "\(home.root)/state"
        environment["HOST_NAME"] = "mail1"
        environment["ALLOW_HTTP"] = "true"
        return PreparedScenario(home: home, environment: environment) { _ in
            home.config = "\(home.root)/etc/drctl.toml"
            let rows = try home.snapshots()
            #expect(rows.count == 2, "the rebuilt configuration should see the old and the new backup: \(rows.map(\.id))")
            let (restored, report) = try home.restore(["--to", "\(home.root)/restored"])
            #expect(restored.status == 0 && report?.restored.count == mailboxes.count, "\(restored.stderr)")
        }
    }

    /// Two folder targets and a chain of two signed drill reports.
    static func auditorRequest(_ runbook: Runbook) throws -> PreparedScenario {
        let home = try BackupHome()
        try home.enableDrillReports()
        _ = try home.generate(cipher: "chacha20", journal: "wal", count: try runbook.mailboxes(default: 2), messages: 80,
                              seed: 5, subfolder: "users")
        try home.initRepository()
        _ = try home.backupOK()
        for seed in ["1", "2"] {
            let drill = try home.drctl(["drill", "--all", "--seed", seed])
            try #require(drill.status == 0, "\(drill.stderr)")
        }
        let handover = "\(home.root)/handover"
        var environment = environment(home)
        environment["REPORT_DIR"] = home.reportFolder
        environment["HANDOVER"] = handover
        return PreparedScenario(home: home, environment: environment) { _ in
            let handed = (try? FileManager.default.contentsOfDirectory(atPath: "\(handover)/reports")) ?? []
            #expect(handed.filter { $0.hasSuffix(".dsse.json") }.count == 2, "\(handed)")
            #expect(!handed.contains { $0.hasSuffix(".names.json") }, "mailbox names were handed over: \(handed)")
            let page = try String(contentsOfFile: "\(handover)/drill-2.html", encoding: .utf8)
            #expect(page.contains("PASS"))
        }
    }
}

import DRTestSupport
import DRTransport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// drctl end to end against the real S3 servers of scripts/s3-servers (SeaweedFS and Ceph
/// radosgw on loopback, two "regions"), alone and beside a folder target; and, through the
/// fault proxy, against the faults a real server cannot be made to produce.
@Suite("S3 targets end to end", .serialized)
struct S3TargetTests {
    static func servers() throws -> (S3TestServer, S3TestServer) {
        (try S3TestServer.named("seaweedfs"), try S3TestServer.named("radosgw"))
    }

    /// Images of every mailbox as they are now (the store is quiescent).
    func images(_ home: BackupHome, _ mailboxes: [GeneratedMailbox], into folder: String) throws -> [String: [UInt8]] {
        var images: [String: [UInt8]] = [:]
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for mailbox in mailboxes {
            let file = "\(folder)/\(mailbox.path)"
            try home.snapshotImage(mailbox.path, to: file)
            images[mailbox.path] = try Files.read(file)
        }
        return images
    }

    func expectRestored(_ home: BackupHome, _ arguments: [String], equal expected: [String: [UInt8]],
                        _ label: String) throws {
        let destination = "\(home.root)/restored-\(UUID().uuidString.prefix(8))"
        let (result, report) = try home.restore(arguments + ["--to", destination])
        #expect(result.status == 0, "\(label): restore exit \(result.status): \(result.stderr)")
        #expect(report?.restored.count == expected.count, "\(label): \(report?.failures.map(\.error) ?? [])")
        for (path, bytes) in expected {
            let restored = try? Files.read("\(destination)/\(path)")
            #expect(restored == bytes, "\(label): \(path) restored differs from its image")
        }
    }

    func expectCheckClean(_ home: BackupHome, _ label: String) throws {
        let (checked, report) = try home.check(["--read-data"])
        #expect(checked.status == 0, "\(label): check --read-data exit \(checked.status): \(checked.stdout) \(checked.stderr)")
        for target in report?.targets ?? [] {
            #expect(target.errors.isEmpty, "\(label), \(target.target): \(target.errors.map(\.message))")
            #expect(target.blobsVerified > 0 || target.snapshots == 0, "\(label), \(target.target): nothing verified")
        }
    }

    @Test("two S3 regions (SeaweedFS and radosgw): init probes, full and incremental backups, restore from each alone, check --read-data, objects readable by boto3")
    func twoRegions() throws {
        let (seaweed, radosgw) = try Self.servers()
        let home = try BackupHome(specs: [
            .s3("eu-west", server: seaweed, extra: "part_size = \"5MiB\""),
            .s3("eu-north", server: radosgw, extra: "part_size = \"5MiB\"\nconcurrency = 3"),
        ])
        let mailboxes = try home.generate(cipher: "all", journal: "wal", count: 2, messages: 700, seed: 5)
        let initResult = try home.drctl(["init"])
        #expect(initResult.status == 0, "\(initResult.stderr)")
        #expect(initResult.stdout.contains("Object Lock disabled"), "\(initResult.stdout)")
        #expect(initResult.stderr.contains("plain http://"), "the insecure-http warning is missing: \(initResult.stderr)")

        let first = try home.backupOK()
        let firstImages = try images(home, mailboxes, into: "\(home.root)/images-1")
        for (index, mailbox) in mailboxes.enumerated() where index % 2 == 0 {
            try home.write(mailbox, transactions: 4, seed: 40 + index)
        }
        let second = try home.backupOK()
        let secondImages = try images(home, mailboxes, into: "\(home.root)/images-2")
        #expect(second.filesUnchanged == mailboxes.count / 2)
        #expect(second.newChunkBytes < first.newChunkBytes / 2,
                "incremental stored \(second.newChunkBytes) B of new chunks, the full backup \(first.newChunkBytes) B")
        // Both targets got every byte.
        #expect(second.targets.count == 2 && second.targets.allSatisfy { $0.ok })

        for target in ["eu-west", "eu-north"] {
            try expectRestored(home, ["--snapshot", try #require(first.snapshot), "--target", target], equal: firstImages,
                               "first snapshot from \(target)")
            try expectRestored(home, ["--snapshot", try #require(second.snapshot), "--target", target], equal: secondImages,
                               "second snapshot from \(target)")
        }
        try expectCheckClean(home, "two regions")

        // Restore workers: one more than the requests a target takes at once (each worker
        // waits out its round trips), and at least one per core and one more.
        let cores = ProcessInfo.processInfo.activeProcessorCount
        for (target, concurrency) in [("eu-west", 4), ("eu-north", 3)] {
            let (result, report) = try home.restore(["--target", target, "--to", "\(home.root)/workers-\(target)"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(report?.parallelism == max(cores + 1, concurrency + 1), "\(target): \(report?.parallelism ?? -1) workers")
        }

        // An independent client (boto3) lists the same objects with the same sizes, and a pack
        // larger than the part size went up in parts (its ETag says how many).
        for (name, server) in [("eu-west", seaweed), ("eu-north", radosgw)] {
            let listing = try Boto3Listing.objects(server: server, config: home.config, target: name)
            #expect(listing.contains { $0.key.hasSuffix("/config") })
            #expect(listing.contains { $0.key.contains("/snapshots/") })
            let multipart = listing.filter { $0.etag.contains("-") }
            #expect(!multipart.isEmpty, "\(name): no multipart object among \(listing.count) (largest \(listing.map(\.size).max() ?? 0) B)")
            #expect(multipart.allSatisfy { $0.size > 5 << 20 && $0.readBack == $0.size },
                    "\(name): multipart objects read back by boto3 with other sizes: \(multipart)")
        }
    }

    @Test("one S3 and one folder target: point in time, incremental, a target's own copy restores alone")
    func s3AndFolder() throws {
        let (seaweed, _) = try Self.servers()
        let home = try BackupHome(specs: [.s3("offsite", server: seaweed), .file("local")])
        let mailboxes = try home.generate(cipher: "chacha20", journal: "wal", count: 3, messages: 150, seed: 8)
        try home.initRepository()
        _ = try home.backupOK()
        let before = try images(home, mailboxes, into: "\(home.root)/images-1")
        // A moment after the first backup ended and before anything changed.
        sleep(1)
        let firstTime = ISO8601DateFormatter().string(from: Date())
        sleep(1)
        try home.write(mailboxes[1], transactions: 6, seed: 2)
        let incremental = try home.backupOK()
        #expect(incremental.filesUnchanged == 2)
        let after = try images(home, mailboxes, into: "\(home.root)/images-2")
        #expect(before[mailboxes[1].path] != after[mailboxes[1].path])

        try expectRestored(home, ["--point-in-time", firstTime, "--target", "offsite"], equal: before, "at the first backup, from S3")
        try expectRestored(home, ["--point-in-time", firstTime, "--target", "local"], equal: before, "at the first backup, from the folder")
        try expectRestored(home, ["--target", "offsite"], equal: after, "latest, from S3")
        try expectCheckClean(home, "S3 and folder")
    }

    @Test("faults on the way (5xx and SlowDown bursts, dropped uploads and downloads, truncated bodies, latency): backup and restore complete with retries, reported")
    func faultsAreRetried() throws {
        let (seaweed, radosgw) = try Self.servers()
        let proxy = try FaultProxy(upstream: seaweed.endpoint)
        defer { proxy.stop() }
        let home = try BackupHome(specs: [
            .s3("flaky", server: seaweed, endpoint: proxy.endpoint, extra: "part_size = \"5MiB\""),
            .s3("steady", server: radosgw),
        ])
        let mailboxes = try home.generate(cipher: "sqlcipher", journal: "all", count: 2, messages: 500, seed: 21)
        try home.initRepository()
        try proxy.setPlan([
            "latency_ms": 3,
            "status_burst": ["every": 7, "count": 2, "statuses": [503, "SlowDown", 500]],
            "drop_upload": ["every": 5, "after_bytes": 65536],
            "drop_download": ["every": 4, "after_bytes": 2048],
            "truncate_response": ["every": 6],
            "reset": ["every": 11],
        ])
        let report = try home.backupOK()
        let flaky = try #require(report.targets.first { $0.name == "flaky" })
        let faults = try #require(flaky.transfer?.faults, "the report has no faults for the S3 target")
        #expect(faults.retries > 0, "no retry reported: \(faults)")
        let injected = (proxy.stats()["faults"] as? [String: Int]) ?? [:]
        #expect(injected.values.reduce(0, +) > 0, "the proxy injected nothing: \(proxy.stats())")
        let expected = try images(home, mailboxes, into: "\(home.root)/images")
        // Restore reads from the flaky target alone, faults still on.
        try expectRestored(home, ["--target", "flaky"], equal: expected, "restore through faults")
        try proxy.setPlan([:])
        try expectCheckClean(home, "after faults")
    }

    @Test("one S3 target down for a whole run: exit 2 naming it, the other complete; after it is back the next backup completes it")
    func targetDown() throws {
        let (seaweed, radosgw) = try Self.servers()
        let proxy = try FaultProxy(upstream: radosgw.endpoint)
        defer { proxy.stop() }
        let home = try BackupHome(specs: [.s3("primary", server: seaweed), .s3("remote", server: radosgw, endpoint: proxy.endpoint)])
        let mailboxes = try home.generate(cipher: "chacha20", journal: "wal", count: 2, messages: 200, seed: 31)
        try home.initRepository()
        _ = try home.backupOK()
        try proxy.setPlan(["down": true])
        try home.write(mailboxes[0], transactions: 5, seed: 9)
        let (result, report) = try home.backup()
        #expect(result.status == 2, "exit \(result.status): \(result.stderr)")
        let remote = try #require(report?.targets.first { $0.name == "remote" })
        #expect(!remote.ok)
        #expect(remote.error?.contains("remote") == true && remote.error?.contains(proxy.endpoint) == true,
                "\(remote.error ?? "")")
        #expect(report?.targets.first { $0.name == "primary" }?.ok == true)
        #expect(result.stderr.contains("remote"), "the summary does not name the target: \(result.stderr)")
        let expected = try images(home, mailboxes, into: "\(home.root)/images")
        try expectRestored(home, ["--target", "primary"], equal: expected, "from the complete target while the other is down")

        try proxy.setPlan([:])
        // Back: targets shows it lagging, sync completes it from the healthy target.
        let lagging = try home.drctl(["targets", "--json"])
        #expect(lagging.status == 2, "targets exit \(lagging.status): \(lagging.stdout)")
        let synced = try home.drctl(["sync", "--json"])
        #expect(synced.status == 0, "sync exit \(synced.status): \(synced.stdout) \(synced.stderr)")
        let caughtUp = try home.drctl(["targets", "--json"])
        #expect(caughtUp.status == 0, "targets after sync: \(caughtUp.stdout)")
        try expectCheckClean(home, "after the outage and sync")
        try expectRestored(home, ["--target", "remote"], equal: expected, "from the target that was down, after sync")
        try expectRestored(home, ["--target", "primary"], equal: expected, "from the other target, after sync")
        let next = try home.backupOK()
        #expect(next.targets.allSatisfy { $0.ok })
    }

    @Test("a pack damaged on one S3 target: check --read-data names it, restore reads the other target")
    func damagedPack() throws {
        let (seaweed, radosgw) = try Self.servers()
        let home = try BackupHome(specs: [.s3("first", server: seaweed), .s3("second", server: radosgw)])
        let mailboxes = try home.generate(cipher: "chacha20", journal: "wal", count: 2, messages: 120, seed: 13)
        try home.initRepository()
        _ = try home.backupOK()
        let expected = try images(home, mailboxes, into: "\(home.root)/images")
        // Flip bytes in the middle of the largest pack on "first", same size (a bit rot the
        // server's own checksums would not see: it is a new, valid upload).
        let location = try TargetBucket.of(config: home.config, target: "first")
        let store = try seaweed.store(prefix: location.prefix, bucket: location.bucket)
        let packs = try store.listSizes(prefix: "data/")
        let (name, size) = try #require(packs.max { $0.value < $1.value })
        var bytes = try store.get(name, maxBytes: size)
        for index in stride(from: bytes.count / 3, to: bytes.count / 3 + 64, by: 1) { bytes[index] ^= 0x5a }
        try store.put(name, bytes, ifAbsent: false)

        let (checked, report) = try home.check(["--read-data"])
        #expect(checked.status != 0, "check passed over a damaged pack: \(checked.stdout)")
        let first = try #require(report?.targets.first { $0.target == "first" })
        #expect(first.damagedPacks.contains { name.hasSuffix($0) || $0.hasSuffix(name) || $0 == name },
                "damaged packs \(first.damagedPacks), expected \(name)")
        #expect(report?.targets.first { $0.target == "second" }?.errors.isEmpty == true)
        try expectRestored(home, [], equal: expected, "restore with a damaged pack on the first target")
    }

    @Test("upload_limit caps what a target is sent per second (a lower bound on the backup's time, never an upper one)")
    func uploadLimit() throws {
        let (seaweed, _) = try Self.servers()
        let limit = 512 << 10
        let home = try BackupHome(specs: [.s3("capped", server: seaweed, extra: "upload_limit = \"512KiB\""), .file("local")])
        try home.generate(cipher: "chacha20", journal: "wal", count: 2, messages: 200, seed: 17)
        try home.initRepository()
        let report = try home.backupOK()
        let sent = try #require(report.targets.first { $0.name == "capped" }?.transfer?.bytesWritten)
        try #require(sent > Int64(3 * limit), "the test store is too small to show a cap: \(sent) B sent")
        // The bucket holds at most one second's worth; everything past it waits for tokens.
        let floor = Double(sent - Int64(limit)) / Double(limit)
        #expect(report.durationSeconds >= floor * 0.95,
                "\(sent) B went to the capped target in \(report.durationSeconds) s: faster than 512 KiB/s allows (≥ \(floor) s)")
    }

    @Test("restore reads from the target that answers fastest, unless a priority says otherwise")
    func readsFromTheFastest() throws {
        let (seaweed, radosgw) = try Self.servers()
        let proxy = try FaultProxy(upstream: radosgw.endpoint)
        defer { proxy.stop() }
        // "far" comes first in the file: order alone would pick it.
        let home = try BackupHome(specs: [.s3("far", server: radosgw, endpoint: proxy.endpoint), .s3("near", server: seaweed)])
        let mailboxes = try home.generate(cipher: "chacha20", journal: "wal", count: 2, messages: 60, seed: 3)
        try home.initRepository()
        _ = try home.backupOK()
        try proxy.setPlan(["latency_ms": 150])
        let (result, report) = try home.restore(["--to", "\(home.root)/fastest"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(report?.restored.count == mailboxes.count)
        #expect(report?.restored.allSatisfy { $0.target == "near" } == true,
                "restored from \(report?.restored.map(\.target) ?? [])")
        // priority = 1 on the distant target: it is read first although it is slower.
        try home.replaceConfig { $0.replacingOccurrences(of: "name = \"far\"", with: "name = \"far\"\npriority = 1") }
        let (again, preferred) = try home.restore(["--to", "\(home.root)/preferred"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(preferred?.restored.allSatisfy { $0.target == "far" } == true,
                "restored from \(preferred?.restored.map(\.target) ?? [])")
    }

    @Test("operator errors: a wrong secret, a missing bucket, an untrusted certificate and a public bucket are refused with the target named")
    func operatorErrors() throws {
        let (seaweed, radosgw) = try Self.servers()
        for server in [seaweed, radosgw] {
            // Wrong secret.
            let wrong = try BackupHome(specs: [.s3("vault", server: server)])
            _ = try wrong.home.secretFile("vault.credentials", server.credentialsFileText(secret: "not-the-secret-0123456789"))
            let refused = try wrong.drctl(["init"])
            #expect(refused.status == 77, "\(server.name): exit \(refused.status): \(refused.stderr)")
            #expect(refused.stderr.contains("target vault"), "\(refused.stderr)")
            #expect(refused.stderr.lowercased().contains("secret"), "\(refused.stderr)")
            #expect(!refused.stderr.contains("not-the-secret"), "the secret is in the message")

            // Missing bucket.
            let missing = try BackupHome(specs: [.s3("vault", server: server, bucket: "drctl-missing-bucket")])
            let noBucket = try missing.drctl(["init"])
            #expect(noBucket.status == 78, "\(server.name): exit \(noBucket.status): \(noBucket.stderr)")
            #expect(noBucket.stderr.contains("drctl-missing-bucket"), "\(noBucket.stderr)")

            // A public bucket: refused, unless the target says it is intended.
            let publicBucket = try #require(server.publicBucket)
            let exposed = try BackupHome(specs: [.s3("vault", server: server, bucket: publicBucket)])
            let publicRefused = try exposed.drctl(["init", "--json"])
            #expect(publicRefused.status == 78, "\(server.name): exit \(publicRefused.status): \(publicRefused.stderr)")
            #expect(publicRefused.stdout.contains("target.public"), "\(publicRefused.stdout)")
            #expect(publicRefused.stderr.contains("anonymous"), "\(publicRefused.stderr)")
            let allowed = try BackupHome(specs: [.s3("vault", server: server, bucket: publicBucket, extra: "allow_public = true")])
            let allowedResult = try allowed.drctl(["init"])
            #expect(allowedResult.status == 0, "\(server.name): \(allowedResult.stderr)")
        }

        // A TLS endpoint whose certificate is not trusted.
        let proxy = try FaultProxy(upstream: seaweed.endpoint, tls: true)
        defer { proxy.stop() }
        let tls = try BackupHome(specs: [.s3("vault", server: seaweed, endpoint: proxy.endpoint)])
        try tls.replaceConfig { $0.replacingOccurrences(of: "allow_insecure_http = true", with: "") }
        let untrusted = try tls.drctl(["init", "--json"])
        #expect(untrusted.status == 78, "exit \(untrusted.status): \(untrusted.stderr)")
        #expect(untrusted.stdout.contains("transport.tls"), "\(untrusted.stdout)")
        #expect(untrusted.stderr.contains("ca_file"), "\(untrusted.stderr)")
        // Trusted through ca_file, it works, and no insecure-http warning is printed.
        let certificate = try #require(proxy.certificate)
        try tls.replaceConfig { $0.replacingOccurrences(of: "name = \"vault\"", with: "name = \"vault\"\nca_file = \"\(certificate)\"") }
        let trusted = try tls.drctl(["init"])
        #expect(trusted.status == 0, "\(trusted.stderr)")
        #expect(!trusted.stderr.contains("plain http"))
    }

    @Test("credentials from systemd (LoadCredential=): read from $CREDENTIALS_DIRECTORY; without it, a clear error naming the target")
    func systemdCredential() throws {
        let (seaweed, _) = try Self.servers()
        let home = try BackupHome(specs: [.s3("vault", server: seaweed), .file("local")])
        // What LoadCredential=vault-s3:/etc/drctl/vault.credentials gives the service: a
        // private folder with one file per credential, mode 0400.
        let directory = "\(home.root)/credentials"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
        let credential = "\(directory)/vault-s3"
        _ = FileManager.default.createFile(atPath: credential, contents: Data(seaweed.credentialsFileText().utf8),
                                           attributes: [.posixPermissions: 0o400])
        try home.replaceConfig { text in
            text.split(separator: "\n", omittingEmptySubsequences: false)
                .map { $0.hasPrefix("credentials_file = \"\(home.root)/vault.credentials\"") ? "systemd_credential = \"vault-s3\"" : String($0) }
                .joined(separator: "\n")
        }
        unlink("\(home.root)/vault.credentials")
        try home.generate(cipher: "chacha20", journal: "wal", count: 1, messages: 40, seed: 4)

        // Outside systemd: init names the target and what to do, and writes nothing anywhere.
        let outside = try home.drctl(["init"])
        #expect(outside.status != 0)
        #expect(outside.stderr.contains("target vault") && outside.stderr.contains("CREDENTIALS_DIRECTORY"), "\(outside.stderr)")
        #expect(!Files.exists(home.targetFolder("local")) || Files.all(under: home.targetFolder("local")).isEmpty)

        var environment = home.home.environment
        environment["CREDENTIALS_DIRECTORY"] = directory
        let initResult = try BinaryRunner.run(Drctl.binary, ["init", "--config", home.config], environment: environment,
                                              inheritEnvironment: false, currentDirectory: home.root)
        #expect(initResult.status == 0, "\(initResult.stderr)")
        let backup = try BinaryRunner.run(Drctl.binary, ["backup", "--json", "--config", home.config], environment: environment,
                                          inheritEnvironment: false, currentDirectory: home.root)
        #expect(backup.status == 0, "\(backup.stderr)")
        #expect(!backup.stdout.contains(seaweed.secretAccessKey) && !backup.stderr.contains(seaweed.secretAccessKey))
    }

    @Test("Object Lock: init reports it, objects are retained, and drctl cannot delete a retained key object")
    func objectLock() throws {
        let (seaweed, radosgw) = try Self.servers()
        for server in [seaweed, radosgw] {
            let lockBucket = try #require(server.lockBucket)
            let home = try BackupHome(specs: [.s3("vault", server: server, bucket: lockBucket,
                                                  extra: "object_lock = { mode = \"governance\", days = 1 }")])
            let initResult = try home.drctl(["init"])
            #expect(initResult.status == 0, "\(server.name): \(initResult.stderr)")
            #expect(initResult.stdout.contains("Object Lock enabled"), "\(initResult.stdout)")
            let passwordFile = try home.home.secretFile("second.password", "a second passphrase for the test\n")
            let added = try home.drctl(["key", "add", "--new-password-file", passwordFile, "--json"])
            #expect(added.status == 0, "\(added.stderr)")
            let id = try #require((try? JSONSerialization.jsonObject(with: Data(added.stdout.utf8)) as? [String: Any])?["id"] as? String)
            let removed = try home.drctl(["key", "remove", id])
            #expect(removed.status != 0, "\(server.name): a retained key object was deleted")
            #expect(removed.stderr.contains("Object Lock"), "\(removed.stderr)")

            // object_lock on a bucket without it: init refuses before writing anything.
            let plain = try BackupHome(specs: [.s3("vault", server: server,
                                                   extra: "object_lock = { mode = \"compliance\", days = 1 }")])
            let refused = try plain.drctl(["init", "--json"])
            #expect(refused.status == 78, "\(server.name): exit \(refused.status): \(refused.stderr)")
            #expect(refused.stdout.contains("target.object-lock"), "\(refused.stdout)")
        }
    }

    @Test("backup to two S3 targets killed with SIGKILL at random moments: check stays clean, the next backup completes")
    func killedBackups() throws {
        let (seaweed, radosgw) = try Self.servers()
        let home = try BackupHome(specs: [.s3("a", server: seaweed), .s3("b", server: radosgw)])
        let mailboxes = try home.generate(cipher: "all", journal: "wal", count: 2, messages: 300, seed: 77)
        try home.initRepository()
        _ = try home.backupOK()
        // Kills fall within what an incremental backup of three changed mailboxes takes.
        for mailbox in mailboxes.prefix(3) { try home.write(mailbox, transactions: 3, seed: 400) }
        let started = Date()
        _ = try home.backupOK()
        let duration = Date().timeIntervalSince(started)
        var kills = 0
        for round in 0..<8 {
            for mailbox in mailboxes.shuffled().prefix(3) {
                try home.write(mailbox, transactions: 3, seed: 500 + round)
            }
            let outcome = try home.runKilled(["backup"], after: Double.random(in: 0.02...max(0.05, duration * 0.9)))
            if outcome.killed { kills += 1 }
            let (checked, report) = try home.check(["--read-data"])
            #expect(checked.status == 0, "round \(round): check exit \(checked.status): \(checked.stdout)")
            for target in report?.targets ?? [] {
                #expect(target.errors.isEmpty, "round \(round), \(target.target): \(target.errors.map(\.message))")
            }
        }
        #expect(kills >= 4, "only \(kills) of 8 backups were killed before they ended")
        _ = try home.backupOK()
        let expected = try images(home, mailboxes, into: "\(home.root)/images")
        try expectRestored(home, ["--target", "b"], equal: expected, "after the kills")
        try expectCheckClean(home, "after the kills")
    }
}

/// One object as boto3 lists it, with the size of what boto3 reads back.
struct ListedObject: CustomStringConvertible {
    var key: String
    var size: Int64
    var etag: String
    var readBack: Int64
    var description: String { "\(key) \(size) B etag \(etag) read \(readBack)" }
}

/// Lists a target's objects with boto3 (an implementation independent of drctl's), reading
/// back every multipart one.
/// A target's bucket and prefix, from the `url = "s3://bucket/prefix"` the test wrote.
struct TargetBucket {
    var bucket: String
    var prefix: String

    static func of(config: String, target: String) throws -> TargetBucket {
        let text = try String(contentsOfFile: config, encoding: .utf8)
        let blocks = text.components(separatedBy: "[[target]]")
        let block = try #require(blocks.first { $0.contains("name = \"\(target)\"") })
        let urlLine = try #require(block.split(separator: "\n").first { $0.hasPrefix("url = ") })
        let url = urlLine.dropFirst("url = \"s3://".count).dropLast()
        return TargetBucket(bucket: String(url.prefix { $0 != "/" }), prefix: String(url.drop { $0 != "/" }.dropFirst()))
    }
}

enum Boto3Listing {
    static func objects(server: S3TestServer, config: String, target: String) throws -> [ListedObject] {
        let location = try TargetBucket.of(config: config, target: target)
        let bucket = location.bucket, prefix = location.prefix
        let output = try Boto3.run("""
            for page in c.get_paginator("list_objects_v2").paginate(Bucket=args[0], Prefix=args[1] + "/"):
                for o in page.get("Contents", []):
                    etag = o["ETag"].strip('"')
                    back = len(c.get_object(Bucket=args[0], Key=o["Key"])["Body"].read()) if "-" in etag else o["Size"]
                    print(json.dumps({"key": o["Key"], "size": o["Size"], "etag": etag, "back": back}))
            """, server: server, arguments: [bucket, prefix])
        return output.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return ListedObject(key: object["key"] as? String ?? "", size: (object["size"] as? NSNumber)?.int64Value ?? -1,
                                etag: object["etag"] as? String ?? "", readBack: (object["back"] as? NSNumber)?.int64Value ?? -1)
        }
    }
}

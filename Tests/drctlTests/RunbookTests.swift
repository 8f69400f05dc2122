import DRTestSupport
import Foundation
import Testing

/// The runbooks' commands are run as written, so that a runbook can never drift from drctl.
@Suite("runbooks")
struct RunbookTests {
    /// The `sh` blocks of a runbook, in order.
    static func shellBlocks(_ path: String) throws -> [String] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var blocks: [String] = []
        var current: [String]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line.trimmingCharacters(in: .whitespaces) == "```sh" {
                current = []
            } else if current != nil, line.trimmingCharacters(in: .whitespaces) == "```" {
                blocks.append(current?.joined(separator: "\n") ?? "")
                current = nil
            } else {
                current?.append(String(line))
            }
        }
        return blocks
    }

    @Test("runbooks/restore-a-mailbox.md: every command works as written")
    func restoreAMailbox() throws {
        let home = try BackupHome()
        let mailboxes = try home.generate(cipher: "chacha20", journal: "wal", count: 2, messages: 120)
        try home.initRepository()
        _ = try home.backupOK()
        try home.write(mailboxes[0], transactions: 3, seed: 9)
        _ = try home.backupOK()

        let runbook = "\(ProjectRoot.path)/runbooks/restore-a-mailbox.md"
        let blocks = try Self.shellBlocks(runbook)
        #expect(blocks.count >= 5, "the runbook's sh blocks were not found")
        let staging = "\(home.root)/staging"
        var environment = home.home.environment
        environment["PATH"] = BinaryRunner.productsDirectory + ":/usr/bin:/bin"
        environment["DRCTL_CONFIG"] = home.config
        environment["MAILBOX"] = mailboxes[0].path
        environment["AT"] = "now"
        environment["STAGING"] = staging
        environment["STORE"] = home.store
        environment["OWNER"] = "nobody"
        let live = "\(home.store)/\(mailboxes[0].path)"
        let before = try Files.read(live)
        let script = "set -euo pipefail\n" + blocks.joined(separator: "\n")
        let result = try BinaryRunner.run("/bin/bash", ["-c", script], environment: environment,
                                          inheritEnvironment: false, currentDirectory: home.root)
        #expect(result.status == 0, "runbook failed (\(result.status)): \(result.stderr)\n\(result.stdout)")

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
        var info = stat()
        #expect(stat(live, &info) == 0 && info.st_uid == getpwnam("nobody").pointee.pw_uid)
        let record = try Data(contentsOf: URL(fileURLWithPath: "\(staging)/restore-record.json"))
        let rows = try JSONSerialization.jsonObject(with: record) as? [[String: Any]]
        #expect(rows?.count == 2)
    }

    @Test("runbooks/a-target-was-down.md: every command works as written, and the target is whole at the end")
    func aTargetWasDown() throws {
        let home = try BackupHome()
        let mailboxes = try home.generate(cipher: "chacha20", journal: "wal", count: 2, messages: 80)
        try home.initRepository()
        _ = try home.backupOK()
        try home.takeAway("site-b")
        try home.write(mailboxes[0], transactions: 3, seed: 4)
        let (missed, _) = try home.backup()
        try #require(missed.status == 2, "\(missed.stderr)")
        try home.bringBack("site-b")

        let blocks = try Self.shellBlocks("\(ProjectRoot.path)/runbooks/a-target-was-down.md")
        #expect(blocks.count >= 4, "the runbook's sh blocks were not found")
        var environment = home.home.environment
        environment["PATH"] = BinaryRunner.productsDirectory + ":/usr/bin:/bin"
        environment["DRCTL_CONFIG"] = home.config
        let script = "set -euo pipefail\n" + blocks.joined(separator: "\n")
        let result = try BinaryRunner.run("/bin/bash", ["-c", script], environment: environment,
                                          inheritEnvironment: false, currentDirectory: home.root)
        #expect(result.status == 0, "runbook failed (\(result.status)): \(result.stderr)\n\(result.stdout)")
        #expect(result.stdout.contains("would copy"), "\(result.stdout)")
        #expect(try home.objects(of: "site-b") == home.objects(of: "site-a"))
    }

    @Test("runbooks/add-an-s3-target.md: every command works as written against a real S3 server, and the new target restores alone")
    func addAnS3Target() throws {
        let seaweed = try S3TestServer.named("seaweedfs")
        let home = try BackupHome(targets: ["site-a"])
        let mailboxes = try home.generate(cipher: "chacha20", journal: "wal", count: 2, messages: 80, seed: 12)
        try home.initRepository()
        _ = try home.backupOK()
        // Step 3 is done by hand: the test writes the file the operator would.
        let credentials = try home.home.secretFile("offsite.credentials", seaweed.credentialsFileText())

        let blocks = try Self.shellBlocks("\(ProjectRoot.path)/runbooks/add-an-s3-target.md")
        #expect(blocks.count >= 6, "the runbook's sh blocks were not found")
        var environment = home.home.environment
        environment["PATH"] = BinaryRunner.productsDirectory + ":/usr/bin:/bin"
        environment["DRCTL_CONFIG"] = home.config
        environment["TARGET"] = "offsite"
        environment["BUCKET"] = seaweed.bucket
        environment["PREFIX"] = "runbook-\(UUID().uuidString.lowercased().prefix(12))"
        environment["ENDPOINT"] = seaweed.endpoint
        environment["REGION"] = seaweed.region
        environment["CREDENTIALS"] = credentials
        environment["EXTRA_KEYS"] = "allow_insecure_http = true"
        let script = "set -euo pipefail\n" + blocks.joined(separator: "\n")
        let result = try BinaryRunner.run("/bin/bash", ["-c", script], environment: environment,
                                          inheritEnvironment: false, currentDirectory: home.root)
        #expect(result.status == 0, "runbook failed (\(result.status)): \(result.stderr)\n\(result.stdout)")
        #expect(!result.stdout.contains(seaweed.secretAccessKey) && !result.stderr.contains(seaweed.secretAccessKey))

        // The new target holds the whole repository: the snapshot restores from it alone.
        let destination = "\(home.root)/from-offsite"
        let (restored, report) = try home.restore(["--target", "offsite", "--to", destination])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(report?.restored.count == mailboxes.count)
        #expect(report?.restored.allSatisfy { $0.target == "offsite" } == true)
    }
}

import Foundation
import Testing

/// `[backup] compression`: standard (zstd level 1), fast (zstd -1) and off store the same
/// plain mailboxes in different sizes, and each restores them byte for byte.
@Suite("backup compression setting")
struct BackupCompressionTests {
    @Test("standard < fast < off in stored data bytes; every repository restores and checks clean")
    func threeModes() throws {
        let home = try BackupHome(targets: [])
        let mailboxes = try home.generate(cipher: "none", journal: "wal", count: 2, messages: 400, seed: 21)
        let images = "\(home.root)/images"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        for mailbox in mailboxes { try home.snapshotImage(mailbox.path, to: "\(images)/\(mailbox.path)") }

        var stored: [String: Int64] = [:]
        for mode in ["standard", "fast", "off"] {
            // A repository of its own for each mode: in one repository the second backup would
            // find every page already stored.
            let config = try home.home.backupConfigFile(
                storePath: home.store, include: ["**/*.db"], keyFile: "\(home.root)/\(mode).key",
                targets: [(name: "site", folder: "\(home.root)/targets/\(mode)")], name: "\(mode).toml",
                statePath: "\(home.root)/state-\(mode)")
            try (String(contentsOfFile: config, encoding: .utf8) + "\n[backup]\ncompression = \"\(mode)\"\n")
                .write(toFile: config, atomically: true, encoding: .utf8)
            let initialised = try home.home.drctl(["init", "--config", config])
            #expect(initialised.status == 0, "\(mode): init: \(initialised.stderr)")
            let backup = try home.home.drctl(["backup", "--json", "--config", config])
            #expect(backup.status == 0, "\(mode): backup: \(backup.stderr)")
            let report = try JSONDecoder().decode(BackupReport.self, from: Data(backup.stdout.utf8))
            stored[mode] = report.stored.dataBytes

            let destination = "\(home.root)/restored-\(mode)"
            let restore = try home.home.drctl(["restore", "--to", destination, "--json", "--config", config])
            #expect(restore.status == 0, "\(mode): restore: \(restore.stderr)")
            for mailbox in mailboxes {
                #expect(try Files.read("\(destination)/\(mailbox.path)") == Files.read("\(images)/\(mailbox.path)"),
                        "\(mode): \(mailbox.path) restored differs from its image")
            }
            let check = try home.home.drctl(["check", "--read-data", "--json", "--config", config])
            #expect(check.status == 0, "\(mode): check --read-data: \(check.stdout) \(check.stderr)")
        }
        let standard = try #require(stored["standard"]), fast = try #require(stored["fast"]), off = try #require(stored["off"])
        #expect(standard < fast && fast < off, "stored data bytes: standard \(standard), fast \(fast), off \(off)")
        // Mail text shrinks by far more than a few percent; off stores the pages as they are.
        #expect(standard * 3 / 2 < off, "standard \(standard) against off \(off)")
    }

    @Test("an unknown compression: exit 78, FILE:LINE and the three choices")
    func unknownValue() throws {
        let home = try BackupHome(targets: ["site"])
        try (String(contentsOfFile: home.config, encoding: .utf8) + "\n[backup]\ncompression = \"fastest\"\n")
            .write(toFile: home.config, atomically: true, encoding: .utf8)
        let lines = try String(contentsOfFile: home.config, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let line = try #require(lines.firstIndex { $0.hasPrefix("compression") }) + 1
        let result = try home.drctl(["config", "check"])
        #expect(result.status == 78)
        #expect(result.stderr.contains("\(home.config):\(line):"), "\(result.stderr)")
        #expect(result.stderr.contains("\"fastest\" is not a compression") && result.stderr.contains("\"standard\"")
                && result.stderr.contains("\"fast\"") && result.stderr.contains("\"off\""), "\(result.stderr)")
    }
}

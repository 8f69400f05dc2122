import DRTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Prune while three hosts back up into one repository on two real S3 servers (SeaweedFS and
/// radosgw), over several rounds, with forget and prune started at random moments and in
/// some rounds killed: afterwards check --read-data is clean and every kept snapshot restores
/// byte for byte.
@Suite("prune while other hosts back up")
struct PruneConcurrencyTests {
    /// SplitMix64: a seeded generator, so that a failing round can be replayed (the seed is
    /// printed).
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    struct Host {
        var name: String
        var store: String
        var config: String
        var mailboxes: [GeneratedMailbox]
    }

    static func start(_ arguments: [String], home: BackupHome) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Drctl.binary)
        process.arguments = arguments + ["--no-progress"]
        process.environment = home.home.environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return (process, out)
    }

    @Test("three hosts back up for five rounds while forget and prune run (and are killed) at random moments")
    func threeHostsOnTwoServers() throws {
        let seaweed = try S3TestServer.named("seaweedfs")
        let radosgw = try S3TestServer.named("radosgw")
        let home = try BackupHome(specs: [.s3("eu-west", server: seaweed), .s3("eu-north", server: radosgw)])
        let seed = UInt64(ProcessInfo.processInfo.environment["DRCTL_TEST_SEED"] ?? "") ?? UInt64.random(in: 1...UInt64(UInt32.max))
        print("prune concurrency: seed \(seed) (DRCTL_TEST_SEED=\(seed) replays it)")
        var random = Seeded(state: seed)

        // One configuration per host: the same targets and key, its own store, state and name.
        let template = try String(contentsOfFile: home.config, encoding: .utf8)
        var hosts: [Host] = []
        for index in 0..<3 {
            let name = "mx\(index)"
            let store = "\(home.root)/store-\(name)"
            let state = "\(home.root)/state-\(name)"
            let text = template
                .replacingOccurrences(of: "path = \"\(home.store)\"", with: "path = \"\(store)\"")
                .replacingOccurrences(of: "path = \"\(home.root)/state\"", with: "path = \"\(state)\"\nhost = \"\(name)\"")
                + "\n[prune]\ngrace = \"0s\"\n\n[retention]\nkeep_last = 2\nkeep_daily = 0\nkeep_weekly = 0\nkeep_monthly = 0\n"
            let config = "\(home.root)/\(name).toml"
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            // Paths relative to the host's own store: the mailbox ids its snapshots hold.
            let mailboxes = try home.generate(cipher: "all", journal: "wal", count: 1, messages: 120,
                                              seed: 70 + index, subfolder: "../store-\(name)").map { generated in
                var mailbox = generated
                mailbox.path = String(generated.path.dropFirst("../store-\(name)/".count))
                return mailbox
            }
            try #require(mailboxes.count == 3 && mailboxes.allSatisfy { !$0.path.hasPrefix("..") })
            hosts.append(Host(name: name, store: store, config: config, mailboxes: mailboxes))
        }
        try #require(try home.home.drctl(["init", "--config", hosts[0].config]).status == 0)

        // What each snapshot must restore to: the images of its host's mailboxes when it ran.
        var expected: [String: [String: [UInt8]]] = [:]
        var reclaimed: Int64 = 0
        for round in 0..<5 {
            var images: [String: [String: [UInt8]]] = [:]
            for host in hosts {
                let mailbox = host.mailboxes[round % host.mailboxes.count]
                var moved = mailbox
                moved.path = "../store-\(host.name)/\(mailbox.path)"
                try home.write(moved, transactions: 4, seed: round * 10 + 1)
                for each in host.mailboxes {
                    let file = "\(home.root)/image-\(host.name)"
                    let result = try home.home.drctl(["image", "\(host.store)/\(each.path)", "--to", file, "--force", "--json"])
                    try #require(result.status == 0, "image of \(each.path): \(result.stderr)")
                    images[host.name, default: [:]][each.path] = try Files.read(file)
                }
            }
            let backups = try hosts.map { try Self.start(["backup", "--json", "--pack-bytes", "262144", "--config", $0.config], home: home) }
            usleep(UInt32.random(in: 0...2_000_000, using: &random))
            let pruner = hosts[round % hosts.count]
            // Forget holds its own host's backup lock (a backup lists records, then reads them):
            // on one host they take turns, as drctl run has them do. The other two hosts' backups
            // are still running.
            var finished: [String: Data] = [:]
            if let mine = hosts.firstIndex(where: { $0.name == pruner.name }) {
                finished[pruner.name] = backups[mine].1.fileHandleForReading.readDataToEndOfFile()
                backups[mine].0.waitUntilExit()
            }
            _ = try home.home.drctl(["forget", "--config", pruner.config])
            if round % 2 == 1 {
                let delay = Double.random(in: 0.05...1.5, using: &random)
                let killed = try home.runKilled(["prune"], config: pruner.config, after: delay)
                print("round \(round): prune by \(pruner.name) \(killed.killed ? "killed after \(String(format: "%.2f", delay)) s" : "finished before its kill")")
            } else {
                let result = try home.home.drctl(["prune", "--json", "--config", pruner.config])
                let report = try? JSONDecoder().decode(PruneTests.Report.self, from: Data(result.stdout.utf8))
                reclaimed += report?.targets.reduce(0) { $0 + $1.deletedBytes } ?? 0
                print("round \(round): prune by \(pruner.name) exit \(result.status): \(report?.targets.map { "\($0.name) deleted \($0.deletedPacks) marked \($0.markedPacks) waiting \($0.waiting.count) \($0.error ?? "")" } ?? [result.stderr])")
            }
            for ((process, out), host) in zip(backups, hosts) {
                let data = finished[host.name] ?? out.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                #expect(process.terminationStatus == 0, "round \(round): backup of \(host.name) ended with \(process.terminationStatus): \(String(decoding: data, as: UTF8.self))")
                let report = try JSONDecoder().decode(BackupReport.self, from: data)
                expected[try #require(report.snapshot)] = images[host.name]
            }
        }

        // Settle: every host forgets and prunes (its own prune also clears what its killed
        // prune left), twice, so that every mark is swept.
        for _ in 0..<2 {
            for host in hosts {
                _ = try home.home.drctl(["forget", "--config", host.config])
                let result = try home.home.drctl(["prune", "--json", "--config", host.config])
                let report = try? JSONDecoder().decode(PruneTests.Report.self, from: Data(result.stdout.utf8))
                reclaimed += report?.targets.reduce(0) { $0 + $1.deletedBytes } ?? 0
            }
        }
        let last = try home.home.drctl(["prune", "--json", "--config", hosts[0].config])
        #expect(last.status == 0, "the last prune: \(last.stdout)\(last.stderr)")
        #expect(reclaimed > 0, "five rounds of forget and prune reclaimed nothing")

        let check = try home.home.drctl(["check", "--read-data", "--json", "--config", hosts[0].config])
        let report = try JSONDecoder().decode(CheckReport.self, from: Data(check.stdout.utf8))
        #expect(check.status == 0, "check --read-data after the rounds: \(check.stdout)")
        for target in report.targets {
            #expect(target.errors.isEmpty, "\(target.target): \(target.errors.map(\.message))")
            #expect(!target.warnings.contains { $0.code == "check.pack-unreferenced" }, "\(target.target): unused packs left: \(target.warnings.count)")
        }

        // Every snapshot left restores to the images its host had when it ran.
        var restored = 0
        for host in hosts {
            let listed = try home.home.drctl(["snapshots", "--json", "--config", host.config])
            let rows = try JSONDecoder().decode([SnapshotRow].self, from: Data(listed.stdout.utf8))
            #expect(rows.count == 2, "\(host.name) keeps \(rows.count) snapshots; keep_last = 2")
            for row in rows {
                let images = try #require(expected[row.id], "snapshot \(row.id) of \(host.name) was not made by this test")
                let folder = "\(home.root)/restored-\(row.id.prefix(12))"
                let result = try home.home.drctl(["restore", "--snapshot", row.id, "--to", folder, "--config", host.config])
                try #require(result.status == 0, "restore of \(row.id.prefix(12)) (\(host.name)): \(result.stderr)")
                for (path, bytes) in images {
                    #expect(try Files.read("\(folder)/\(path)") == bytes, "\(host.name) snapshot \(row.id.prefix(12)): \(path) differs")
                    restored += 1
                }
            }
        }
        #expect(restored == 3 * 2 * 3, "restored \(restored) mailbox images")
    }
}

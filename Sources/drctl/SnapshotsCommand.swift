import ArgumentParser
import DRBase
import DRCore
import Logging

struct Snapshots: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the snapshots in the repository.",
        discussion: """
            One line per snapshot: id, time, mailboxes, image size, what it added, and the \
            targets that hold it. With --mailbox, the snapshots that hold that mailbox and the \
            moment its image is consistent at (what --point-in-time compares with). This \
            host's snapshots of the configured store, unless --host or --all-hosts; the \
            manifests of every reachable target, and a target that lacks some is named.

            Examples:
              drctl snapshots
              drctl snapshots --mailbox users/alice.sqlite --json
              drctl snapshots --all-hosts
            """)

    @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions
    @Option(help: ArgumentHelp("Only snapshots holding this mailbox.", valueName: "id"))
    var mailbox: String?
    @Option(help: ArgumentHelp("Another host's snapshots.", valueName: "name"))
    var host: String?
    @Flag(help: "Every host's and store's snapshots.")
    var allHosts = false

    func validate() throws {
        if host != nil && allHosts { throw ValidationError("give --host or --all-hosts, not both") }
    }

    func run() throws {
        let configuration = try global.loadConfiguration()
        let logger = global.logger
        let listing = try SnapshotsJob.run(configuration, secrets: global.secrets, mailbox: mailbox,
                                           host: host, allHosts: allHosts, logger: logger)
        for gap in listing.gaps {
            logger.warning("target \(gap.target) lacks \(gap.snapshots.count) snapshot(s) that another target holds (\(gap.snapshots.map { String($0.prefix(12)) }.joined(separator: ", "))): it missed a backup",
                           metadata: ["target": "\(gap.target)"])
        }
        for target in listing.unreadable {
            logger.warning("target \(target.target) could not be read: \(target.error)", metadata: ["target": "\(target.target)"])
        }
        for rejected in listing.rejected {
            logger.warning("snapshot \(rejected.snapshot.prefix(12)) ignored: \(rejected.error)",
                           metadata: ["snapshot": "\(rejected.snapshot)"])
        }
        let rows = listing.rows
        if global.json {
            try Output.json(rows)
            return
        }
        if rows.isEmpty {
            print(mailbox == nil ? "no snapshots yet (run drctl backup)" : "no snapshot holds \(mailbox ?? "")")
            return
        }
        if mailbox != nil {
            print("ID                CONSISTENT AT                 SIZE        MODE        UNCHANGED")
            for row in rows {
                guard let image = row.mailbox else { continue }
                print("\(row.id.prefix(16))  \(image.consistentAt.column(28))  \(ByteSize.format(image.size).column(10))  \(image.snapshotMode.column(10))  \(image.unchanged ? "yes" : "no")")
            }
            return
        }
        print("ID                TIME                          MAILBOXES  SIZE        ADDED       TARGETS" + (allHosts ? "       HOST:STORE" : ""))
        for row in rows {
            print("\(row.id.prefix(16))  \(row.time.column(28))  \(String(row.files).column(9))  \(ByteSize.format(row.imageBytes).column(10))  \(ByteSize.format(row.newChunkBytes).column(10))  \(row.targets.joined(separator: ","))" + (allHosts ? "  \(row.host):\(row.storePath)" : ""))
        }
    }
}

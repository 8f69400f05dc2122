import ArgumentParser
import DRBase
import DRCore

struct Snapshots: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the snapshots in the repository.",
        discussion: """
            One line per snapshot: id, time, mailboxes, image size, what it added, and the \
            targets that hold it. With --mailbox, the snapshots that hold that mailbox and the \
            moment its image is consistent at (what --point-in-time compares with).

            Examples:
              drctl snapshots
              drctl snapshots --mailbox users/alice.sqlite --json
            """)

    @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions
    @Option(help: ArgumentHelp("Only snapshots holding this mailbox.", valueName: "id"))
    var mailbox: String?

    func run() throws {
        let rows = try SnapshotsJob.run(try global.loadConfiguration(), secrets: global.secrets, mailbox: mailbox)
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
        print("ID                TIME                          MAILBOXES  SIZE        ADDED       TARGETS")
        for row in rows {
            print("\(row.id.prefix(16))  \(row.time.column(28))  \(String(row.files).column(9))  \(ByteSize.format(row.imageBytes).column(10))  \(ByteSize.format(row.newChunkBytes).column(10))  \(row.targets.joined(separator: ","))")
        }
    }
}

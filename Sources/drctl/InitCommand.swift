import ArgumentParser
import DRCore

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the repository on every configured target.",
        discussion: """
            Creates a new master key and writes the repository's config and a wrapping of the \
            key (keys/<id>) to every target. The key is wrapped under the passphrase in \
            [repository] password_file (Argon2id), or under the key in [repository] key_file, \
            which is generated (mode 0600) when it does not exist yet.

            An existing repository is never overwritten. When some targets already hold the \
            repository and others are new, init copies the repository's identity to the new \
            ones, so that every target is a complete copy.

            Keep a copy of the key file or passphrase away from this host: without it, no \
            backup can be restored.

            Example:
              drctl init
              drctl init --config /etc/drctl/drctl.toml --json
            """)

    @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

    func run() throws {
        let configuration = try global.loadConfiguration()
        let report = try InitJob.run(configuration, secrets: global.secrets, logger: global.logger)
        if global.json {
            try Output.json(report)
            return
        }
        if global.humanReport {
            print("repository \(report.repository.prefix(16))")
            for target in report.targets {
                print("  \(target.action.column(8)) \(target.name)  \(target.location)")
                if let probe = target.probe {
                    let writes = probe.conditionalWrites ? "honoured" : "ignored by the server (each write-once object is looked up before it is written)"
                    print("           Object Lock \(probe.objectLock); conditional writes (If-None-Match) \(writes)")
                }
            }
            if let key = report.keyID {
                print("key \(key.prefix(16)) added")
            }
        }
        // Generated secrets are announced even under --quiet: the operator must keep a copy.
        for file in report.createdSecretFiles {
            global.notice("generated \(file) (mode 0600)")
        }
        if let file = report.createdKeyFile {
            global.notice("generated key file \(file) (mode 0600): keep a copy of it off this host — without it no backup can be restored")
        }
    }
}

import ArgumentParser
import DRConfig
import DRCore

struct Key: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the keys that open the repository.",
        discussion: """
            A repository has one master key, stored wrapped under one or more keys: \
            passphrases (Argon2id) or key files. Any of them opens the repository; each can be \
            added and removed without re-encrypting anything. The last key cannot be removed.

            New secrets come from files (--new-password-file, --new-key-file) or are typed on \
            the terminal; never from arguments or the environment.
            """,
        subcommands: [List.self, Add.self, Remove.self, Passwd.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the keys of the repository (the one in use is marked with *).",
            discussion: "The list is printed under --quiet too: it is what was asked for.")
        @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

        func run() throws {
            let keys = try KeyJobs.list(try global.loadConfiguration(), secrets: global.secrets, logger: global.logger)
            if global.json {
                try Output.json(keys)
                return
            }
            print("  ID                KIND        CREATED                   USER@HOST")
            for key in keys {
                let mark = key.current ? "*" : " "
                print("\(mark) \(key.id.prefix(16))  \(key.kind.column(10))  \(key.created.column(24))  \(key.user)@\(key.host)")
            }
        }
    }

    struct NewSecretOptions: ParsableArguments {
        @Option(name: .long, help: ArgumentHelp("File holding the new passphrase (mode 0600).", valueName: "path"))
        var newPasswordFile: String?
        @Option(name: .long, help: ArgumentHelp(
            "Key file for the new key; created with a random key (mode 0600) when it does not exist.",
            valueName: "path"))
        var newKeyFile: String?

        func validate() throws {
            if newPasswordFile != nil && newKeyFile != nil {
                throw ValidationError("give either --new-password-file or --new-key-file, not both")
            }
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a key (a passphrase or a key file) that opens the repository.",
            discussion: """
                Examples:
                  drctl key add --new-password-file /etc/drctl/second.pass
                  drctl key add --new-key-file /root/drctl-recovery.key
                """)
        @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions
        @OptionGroup var new: NewSecretOptions

        func run() throws {
            let added = try KeyJobs.add(try global.loadConfiguration(), secrets: global.secrets,
                                        newPasswordFile: new.newPasswordFile.map(Paths.fromCommandLine),
                                        newKeyFile: new.newKeyFile.map(Paths.fromCommandLine), logger: global.logger)
            if global.json {
                try Output.json(added)
                return
            }
            if let file = added.createdKeyFile {
                global.notice("generated key file \(file) (mode 0600)")
            }
            if global.humanReport { print("key \(added.id.prefix(16)) added") }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a key (by id or a unique prefix of at least 4 digits).",
            discussion: "The last key, and the key this command is unlocked with, are refused.")
        @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions
        @Argument(help: "The key's id, or a unique prefix (see drctl key list).")
        var id: String

        func run() throws {
            let removed = try KeyJobs.remove(try global.loadConfiguration(), secrets: global.secrets, id: id, logger: global.logger)
            if global.json {
                try Output.json(["removed": removed])
                return
            }
            if global.humanReport { print("key \(removed.prefix(16)) removed") }
        }
    }

    struct Passwd: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace the key in use by a new passphrase or key file.",
            discussion: "The new key is written to every target before the old one is removed.")
        @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions
        @OptionGroup var new: NewSecretOptions

        func run() throws {
            let replaced = try KeyJobs.passwd(try global.loadConfiguration(), secrets: global.secrets,
                                              newPasswordFile: new.newPasswordFile.map(Paths.fromCommandLine),
                                              newKeyFile: new.newKeyFile.map(Paths.fromCommandLine), logger: global.logger)
            if global.json {
                try Output.json(replaced)
                return
            }
            if let file = replaced.createdKeyFile {
                global.notice("generated key file \(file) (mode 0600)")
            }
            if global.humanReport { print("key \(replaced.newID.prefix(16)) replaces key \(replaced.removedID.prefix(16))") }
        }
    }
}

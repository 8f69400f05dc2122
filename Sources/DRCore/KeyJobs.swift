import DRBase
package import DRConfig
import DRCrypto
package import DRRepository
import DRTransport
package import Logging

/// `drctl init`: create the repository on every target, or complete it on new targets.
package enum InitJob {
    package struct Report: Sendable, Codable {
        package struct TargetResult: Sendable, Codable {
            package var name: String
            package var location: String
            /// "created", "copied" (from another target) or "present".
            package var action: String
            /// What was learnt of an S3 target (nil for a folder).
            package var probe: TargetProbes.Result?
        }
        package var repository: String
        package var keyID: String?
        package var targets: [TargetResult]
        /// A key file that init generated; the operator must keep a copy of it off this host.
        package var createdKeyFile: String?
        /// Other secret files init generated (drill signing key, log anonymization key).
        package var createdSecretFiles: [String] = []
    }

    package static func run(_ configuration: Configuration, secrets: SecretSources,
                           logger: Logger) throws(CoreError) -> Report {
        let stores = Targets.stores(for: configuration, logger: logger)
        // Before anything is written: a wrong secret, a missing bucket or an Object Lock that
        // cannot be had stops init with its own error, on no target half-initialised.
        let probes = try TargetProbes.probe(stores, configuration: configuration)
        let presence: [Bool]
        do { presence = try Repository.presence(of: stores) } catch { throw CoreError(error) }

        if !presence.contains(false) {
            let names = stores.map { "\($0.targetName) (\($0.location))" }.joined(separator: ", ")
            throw CoreError(.repositoryExists, message: "every target already holds a repository: \(names); refusing to overwrite. Use drctl key add to add a key")
        }
        if presence.contains(true) {
            // Some targets have it: open it there and copy its identity to the others.
            let present = zip(stores, presence).filter { $0.1 }.map { $0.0 }
            let missing = zip(stores, presence).filter { !$0.1 }.map { $0.0 }
            let secret = try secrets.unlockSecret(for: configuration)
            do {
                let repository = try Repository.open(present, secret: secret)
                let copied = try repository.replicateIdentity(to: missing)
                let results = stores.map { store in
                    Report.TargetResult(name: store.targetName, location: store.location,
                                        action: copied.contains(store.targetName) ? "copied" : "present",
                                        probe: probes[store.targetName])
                }
                return Report(repository: repository.id, keyID: nil, targets: results, createdKeyFile: nil,
                              createdSecretFiles: try createAuxiliaryKeys(configuration))
            } catch {
                throw CoreError(error)
            }
        }

        var created: String?
        let secret: UnlockSecret
        switch try secrets.unlockFile(for: configuration) {
        case .password(let path)?:
            secret = try SecretSources.newSecret(passwordFile: path, keyFile: nil, createdKeyFile: &created)
        case .key(let path)?:
            secret = try SecretSources.newSecret(passwordFile: nil, keyFile: path, createdKeyFile: &created)
        case nil:
            secret = try SecretSources.newSecret(passwordFile: nil, keyFile: nil, createdKeyFile: &created)
        }
        do {
            let repository = try Repository.create(on: stores, secret: secret, cost: cost(configuration),
                                                   createdBy: "drctl")
            return Report(repository: repository.id, keyID: repository.unlockedKeyID,
                          targets: stores.map { .init(name: $0.targetName, location: $0.location, action: "created",
                                                          probe: probes[$0.targetName]) },
                          createdKeyFile: created, createdSecretFiles: try createAuxiliaryKeys(configuration))
        } catch {
            throw CoreError(error)
        }
    }

    /// The drill report signing key (Ed25519 seed) and the log anonymization key, when
    /// configured and not there yet: generated here so that `config check` has nothing
    /// missing after `init`, and never replaced once they exist.
    static func createAuxiliaryKeys(_ configuration: Configuration) throws(CoreError) -> [String] {
        var created: [String] = []
        if let path = configuration.drill.signingKeyFile, !SecretFiles.exists(path) {
            do {
                try Ed25519SigningKey.generate().writeSeed(toFile: path)
            } catch {
                throw CoreError(error)
            }
            created.append(path)
        }
        if let path = configuration.logs.keyFile, !SecretFiles.exists(path) {
            let text: SecureBytes
            do { text = try KeyFileFormat.generate() } catch { throw CoreError(error) }
            try SecretFiles.create(path, contents: text, purpose: "log anonymization key file")
            created.append(path)
        }
        return created
    }

    static func cost(_ configuration: Configuration) -> Argon2Cost {
        Argon2Cost(opsLimit: UInt64(configuration.repository.argon2Iterations),
                   memLimit: UInt64(configuration.repository.argon2Memory))
    }
}

/// `drctl key …`: several wrappings of one master key.
package enum KeyJobs {
    package struct Listed: Sendable, Codable {
        package var id: String
        package var kind: String
        package var created: String
        package var host: String
        package var user: String
        package var current: Bool
        package var targets: [String]
    }

    /// Opens the repository. `requireAll` false leaves out targets that cannot be opened
    /// (listed in `unavailable`), for the jobs that must go on with the others.
    /// - Parameter only: the one target to use (`--target`), chosen before anything is read,
    ///   so that the other targets — unreachable, or holding damaged objects — are never
    ///   touched.
    package static func open(_ configuration: Configuration, secrets: SecretSources,
                            requireAll: Bool = true, only: String? = nil,
                            use: Targets.Use = .write, logger: Logger) throws(CoreError) -> Repository {
        var stores = Targets.stores(for: configuration, use: use, logger: logger)
        if let only {
            let all = stores
            stores = all.filter { $0.targetName == only }
            if stores.isEmpty {
                throw CoreError(.restoreUnknownTarget, message: "no target named \(only) in the configuration (targets: \(all.map(\.targetName).joined(separator: ", ")))")
            }
        }
        let secret = try secrets.unlockSecret(for: configuration)
        do {
            return try Repository.open(stores, secret: secret, requireAll: requireAll)
        } catch {
            throw CoreError(error)
        }
    }

    package static func list(_ configuration: Configuration, secrets: SecretSources,
                            logger: Logger) throws(CoreError) -> [Listed] {
        let repository = try open(configuration, secrets: secrets, logger: logger)
        do {
            return try repository.keys().map {
                Listed(id: $0.id, kind: $0.object.kind.rawValue, created: $0.object.created,
                       host: $0.object.host, user: $0.object.user,
                       current: $0.id == repository.unlockedKeyID, targets: $0.targets)
            }
        } catch {
            throw CoreError(error)
        }
    }

    package struct Added: Sendable, Codable {
        package var id: String
        package var createdKeyFile: String?
    }

    package static func add(_ configuration: Configuration, secrets: SecretSources,
                           newPasswordFile: String?, newKeyFile: String?, logger: Logger) throws(CoreError) -> Added {
        let repository = try open(configuration, secrets: secrets, logger: logger)
        return try addKey(to: repository, configuration, newPasswordFile: newPasswordFile, newKeyFile: newKeyFile)
    }

    /// Wraps the master key under a new secret (from a file, a new key file, or the terminal)
    /// on every target.
    private static func addKey(to repository: Repository, _ configuration: Configuration,
                               newPasswordFile: String?, newKeyFile: String?) throws(CoreError) -> Added {
        var created: String?
        let secret = try SecretSources.newSecret(passwordFile: newPasswordFile, keyFile: newKeyFile,
                                                 createdKeyFile: &created)
        do {
            return Added(id: try repository.addKey(secret, cost: InitJob.cost(configuration)), createdKeyFile: created)
        } catch {
            throw CoreError(error)
        }
    }

    package static func remove(_ configuration: Configuration, secrets: SecretSources, id: String,
                              logger: Logger) throws(CoreError) -> String {
        let repository = try open(configuration, secrets: secrets, logger: logger)
        do {
            let entry = try repository.resolveKey(id)
            try repository.removeKey(entry.id)
            return entry.id
        } catch {
            throw CoreError(error)
        }
    }

    package struct Replaced: Sendable, Codable {
        package var newID: String
        package var removedID: String
        package var createdKeyFile: String?
    }

    /// Replaces the key in use: the new wrapping is written on every target before the old
    /// one is removed, so a crash in between leaves both (never neither).
    package static func passwd(_ configuration: Configuration, secrets: SecretSources,
                              newPasswordFile: String?, newKeyFile: String?, logger: Logger) throws(CoreError) -> Replaced {
        let repository = try open(configuration, secrets: secrets, logger: logger)
        let added = try addKey(to: repository, configuration, newPasswordFile: newPasswordFile, newKeyFile: newKeyFile)
        do {
            if added.id != repository.unlockedKeyID {
                try repository.removeKey(repository.unlockedKeyID, allowCurrent: true)
            }
            return Replaced(newID: added.id, removedID: repository.unlockedKeyID, createdKeyFile: added.createdKeyFile)
        } catch {
            throw CoreError(error)
        }
    }
}

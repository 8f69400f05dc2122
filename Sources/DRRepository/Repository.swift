import DRBase
import DRCrypto
package import DRTransport
import Foundation

/// `config`: what identifies a repository. Encrypted under the master key's "config" subkey.
package struct RepositoryConfig: Codable, Sendable, Equatable {
    /// The repository format version this object describes (docs/REPOSITORY.md).
    package static let currentFormat = 2
    package var format: Int
    /// 64 hex digits, random; the same on every target (every target is a full copy).
    package var id: String
    package var created: String
    package var createdBy: String
}

/// A key object as listed: its id, content, and the targets that hold it.
package struct KeyEntry: Sendable, Equatable {
    package var id: String
    package var object: KeyObject
    package var targets: [String]
}

/// Cost parameters for new passphrase wrappings (Argon2id).
package struct Argon2Cost: Sendable, Equatable {
    package var opsLimit: UInt64
    package var memLimit: UInt64
    package init(opsLimit: UInt64, memLimit: UInt64) {
        self.opsLimit = opsLimit
        self.memLimit = memLimit
    }
}

/// An unlocked repository, present on one or more targets.
///
/// Holds the master key in secure memory for the lifetime of the object. Not Sendable: one
/// job owns it; parallel stages get derived keys of their own.
package final class Repository {
    package let id: String
    package let stores: [any ObjectStore]
    /// The key object that opened the repository (the "current" key).
    package let unlockedKeyID: String
    /// Targets left out when the repository was opened without requiring all of them (not
    /// reachable, not mounted, or holding no repository), with why.
    package let unavailable: [(target: String, location: String, error: RepositoryError)]
    /// Key objects found damaged (or planted) while opening; each names its target. The
    /// repository opened with another key; `check` and `backup` report these.
    package let damagedKeys: [RepositoryError]
    let masterKey: SecureBytes

    init(id: String, stores: [any ObjectStore], unlockedKeyID: String, masterKey: consuming SecureBytes,
         unavailable: [(target: String, location: String, error: RepositoryError)] = [],
         damagedKeys: [RepositoryError] = []) {
        self.id = id
        self.stores = stores
        self.unlockedKeyID = unlockedKeyID
        self.masterKey = masterKey
        self.unavailable = unavailable
        self.damagedKeys = damagedKeys
    }

    // MARK: - Probing

    /// Which of `stores` already hold a repository (`config` exists).
    package static func presence(of stores: [any ObjectStore]) throws(RepositoryError) -> [Bool] {
        var result: [Bool] = []
        for store in stores {
            do { result.append(try store.exists("config")) } catch { throw RepositoryError(error) }
        }
        return result
    }

    // MARK: - Creating

    /// Creates a new repository on every store: keys first, `config` last (write-once), so a
    /// crash leaves either no repository or a complete one on each target.
    package static func create(on stores: [any ObjectStore], secret: borrowing UnlockSecret,
                              cost: Argon2Cost, createdBy: String) throws(RepositoryError) -> Repository {
        let presence = try presence(of: stores)
        if let index = presence.firstIndex(of: true) {
            throw RepositoryError(.repositoryExists, message: "target \(stores[index].targetName) already holds a repository at \(stores[index].location); refusing to overwrite it. Use a new location, or drctl key add to add a key to it")
        }
        let id = Hex.encode(SecureRandom.bytes(32))
        let master: SecureBytes
        do { master = try SecureBytes.random(count: 32) } catch { throw RepositoryError(error) }
        let (keyID, keyBytes) = try wrap(master: master, repository: id, secret: secret, cost: cost)
        let config = RepositoryConfig(format: RepositoryConfig.currentFormat, id: id,
                                      created: Timestamps.now(), createdBy: createdBy)
        let configBytes = try sealConfig(config, master: master)
        for store in stores {
            do {
                try store.put("keys/\(keyID)", keyBytes, ifAbsent: true)
                try store.put("config", configBytes, ifAbsent: true)
            } catch {
                throw RepositoryError(error)
            }
        }
        return Repository(id: id, stores: stores, unlockedKeyID: keyID, masterKey: master)
    }

    /// Copies the repository's `config` and `keys/` verbatim to targets that lack them, so a
    /// newly configured target becomes a complete copy. Returns the names of targets set up.
    package func replicateIdentity(to newStores: [any ObjectStore]) throws(RepositoryError) -> [String] {
        guard let source = stores.first else { return [] }
        var done: [String] = []
        // Only intact key objects are copied (a damaged one on the source stays behind), each
        // from a target whose copy still matches its id.
        var keyBytes: [(String, [UInt8])] = []
        for entry in try keys() {
            for store in stores where entry.targets.contains(store.targetName) {
                if let bytes = try? intactKeyObject(entry.id, on: store) {
                    keyBytes.append(("keys/\(entry.id)", bytes))
                    break
                }
            }
        }
        do {
            let config = try source.get("config")
            for store in newStores {
                for (name, bytes) in keyBytes { try store.put(name, bytes, ifAbsent: true) }
                try store.put("config", config, ifAbsent: true)
                done.append(store.targetName)
            }
        } catch {
            throw RepositoryError(error)
        }
        return done
    }

    /// The bytes of key object `keys/<id>` as `store` holds them, if they are fit to copy to
    /// another target: they hash to the name, decode, and belong to this repository (a key
    /// object of another repository, planted or left over, is never spread).
    package func intactKeyObject(_ id: String, on store: any ObjectStore) throws(RepositoryError) -> [UInt8] {
        let name = "keys/\(id)"
        let bytes: [UInt8]
        do { bytes = try store.get(name) } catch { throw RepositoryError(error) }
        guard ContentAddress.of(bytes) == id else {
            throw RepositoryError(.repositoryCorrupt, message: "target \(store.targetName): \(name) does not match its content hash: it was modified or damaged (run drctl check)",
                                  context: ErrorContext(target: store.targetName, object: name))
        }
        let object = try KeyObject.decode(bytes, name: name, target: store.targetName)
        guard object.repository == self.id else {
            throw RepositoryError(.repositoryMismatch, message: "target \(store.targetName): \(name) wraps the key of another repository (\(object.repository.prefix(12))…), not this one (\(self.id.prefix(12))…): it is not copied; delete it from the target",
                                  context: ErrorContext(target: store.targetName, object: name))
        }
        return bytes
    }

    // MARK: - Opening

    /// Opens the repository with a passphrase or key file. Keys are read from every target
    /// (a key object lost or damaged on one is found on another); every target must hold the
    /// repository that the opening key belongs to.
    /// - Parameter requireAll: true (key management, init) fails when any target cannot be
    ///   opened; false (backup, restore, check) leaves such targets out and lists them in
    ///   `unavailable`, as long as one target opens: one broken target — unreachable, or
    ///   holding a damaged `config` — must not cost the others their backup.
    package static func open(_ all: [any ObjectStore], secret: borrowing UnlockSecret,
                            requireAll: Bool = true) throws(RepositoryError) -> Repository {
        guard !all.isEmpty else {
            throw RepositoryError(.repositoryNoTarget, message: "no target is configured")
        }
        var stores: [any ObjectStore] = []
        var unavailable: [(target: String, location: String, error: RepositoryError)] = []
        func leaveOut(_ store: any ObjectStore, _ error: RepositoryError) throws(RepositoryError) {
            if requireAll { throw error }
            unavailable.append((store.targetName, store.location, error))
        }
        var anyPresent = false
        var probes: [(any ObjectStore, Result<Bool, TransportError>)] = []
        for store in all {
            do throws(TransportError) {
                let present = try store.exists("config")
                anyPresent = anyPresent || present
                probes.append((store, .success(present)))
            } catch {
                probes.append((store, .failure(error)))
            }
        }
        for (store, probe) in probes {
            switch probe {
            case .success(true):
                stores.append(store)
            case .success(false):
                let hint = anyPresent
                    ? "check that it is mounted and reachable, or run drctl init to copy the repository to it"
                    : "run drctl init first"
                try leaveOut(store, RepositoryError(.repositoryNotInitialized, message: "target \(store.targetName) holds no repository at \(store.location); \(hint)"))
            case .failure(let failure):
                try leaveOut(store, RepositoryError(failure))
            }
        }
        guard !stores.isEmpty else {
            throw unavailable.first?.error ?? RepositoryError(.repositoryTargetsUnavailable, message: "no target could be opened")
        }
        // Every target's keys, merged by id: a key object is content-addressed, so any
        // intact copy is as good as another.
        var byID: [String: KeyEntry] = [:]
        var damaged: [RepositoryError] = []
        var listed: [any ObjectStore] = []
        for store in stores {
            let found: (entries: [KeyEntry], damaged: [RepositoryError])
            do {
                found = try listKeys(in: store)
            } catch {
                try leaveOut(store, error)
                continue
            }
            listed.append(store)
            damaged += found.damaged
            for entry in found.entries {
                if var known = byID[entry.id] {
                    known.targets.append(store.targetName)
                    byID[entry.id] = known
                } else {
                    byID[entry.id] = entry
                }
            }
        }
        stores = listed
        guard !stores.isEmpty else {
            throw unavailable.first?.error ?? RepositoryError(.repositoryTargetsUnavailable, message: "no target could be opened")
        }
        // Cheapest wrappings first: a key object planted with a huge (but still allowed)
        // Argon2id cost delays an unlock only if no cheaper key opens the repository.
        // Parameters drctl never writes mark a damaged or planted object whatever the secret:
        // named for check, and counted as not tried.
        for entry in byID.values.sorted(by: { $0.id < $1.id }) {
            guard let kdf = entry.object.kdf, !kdf.isWithinDrctlLimits else { continue }
            for target in entry.targets {
                damaged.append(RepositoryError(.cryptoKdfParameters, message: "target \(target): keys/\(entry.id) asks for Argon2id with \(kdf.opsLimit) passes over \(kdf.memLimit >> 20) MiB, more than drctl ever writes: it is damaged or planted and is never tried; delete it from the target",
                                               context: ErrorContext(target: target, object: "keys/\(entry.id)")))
            }
        }
        let candidates = byID.values.filter { $0.object.kind == secret.kind }
            .sorted { ($0.object.kdf?.cost ?? 0, $0.id) < ($1.object.kdf?.cost ?? 0, $1.id) }
        var openedEntry: KeyEntry?
        var opened: SecureBytes?
        // A key object that cannot be tried (damaged, or no locked memory for it) is not a
        // wrong key: another key may still open the repository, and if none does, that
        // failure is what the operator must see — not "wrong passphrase".
        var untried: RepositoryError? = damaged.first
        var tried = 0
        for entry in candidates where openedEntry == nil {
            do {
                tried += 1
                if let master = try unwrap(entry.object, secret: secret) {
                    openedEntry = entry
                    opened = consume master
                }
            } catch {
                tried -= 1
                untried = untried ?? error
                // Named per target like any damaged key object, so check lists it (out-of-limit
                // parameters were named above already).
                if error.code == .cryptoKdfParameters { continue }
                for target in entry.targets {
                    damaged.append(RepositoryError(error.code, message: "target \(target): keys/\(entry.id): \(error.message)",
                                                   context: ErrorContext(target: target, object: "keys/\(entry.id)"),
                                                   underlying: error.underlying))
                }
            }
        }
        guard let entry = openedEntry, let master = opened.take() else {
            // Only when no key could even be tried is the damage the answer; a secret that was
            // tried against intact keys and opened none is a wrong secret, whatever else lies
            // in keys/ (which is said too).
            if tried == 0, let untried { throw untried }
            let what = secret.kind == .passphrase ? "passphrase" : "key file"
            let names = stores.map(\.targetName).joined(separator: ", ")
            let skipped = candidates.count - tried
            let note = skipped > 0 ? " (\(skipped) damaged or planted key object(s) were not tried; drctl check names them)" : ""
            throw RepositoryError(.repositoryWrongKey, message: "the \(what) from \(secret.origin) opens none of the \(tried) key(s) of the repository on target(s) \(names)\(note); check that it is the right \(what). Nothing was changed")
        }
        // The key's wrapping is bound to its repository's id (associated data), so that id,
        // not whichever target happens to come first, decides which targets belong.
        var open: [any ObjectStore] = []
        for store in stores {
            let config: RepositoryConfig
            do throws(RepositoryError) {
                do {
                    config = try openConfig(try store.get("config"), master: master, target: store.targetName)
                } catch {
                    throw RepositoryError(error)
                }
                if config.id != entry.object.repository {
                    throw RepositoryError(.repositoryMismatch, message: "target \(store.targetName) holds a different repository (id \(config.id.prefix(12))…) than the key that opened it (repository \(entry.object.repository.prefix(12))…); targets of one configuration must be copies of one repository")
                }
            } catch {
                try leaveOut(store, error)
                continue
            }
            open.append(store)
        }
        guard !open.isEmpty else {
            throw unavailable.first?.error ?? RepositoryError(.repositoryTargetsUnavailable, message: "no target could be opened")
        }
        return Repository(id: entry.object.repository, stores: open, unlockedKeyID: entry.id, masterKey: master,
                          unavailable: unavailable, damagedKeys: damaged)
    }

    // MARK: - Keys

    /// All key objects, with the targets that hold each.
    package func keys() throws(RepositoryError) -> [KeyEntry] {
        var merged: [String: KeyEntry] = [:]
        for store in stores {
            for entry in try Self.listKeys(in: store).entries {
                if var known = merged[entry.id] {
                    known.targets.append(store.targetName)
                    merged[entry.id] = known
                } else {
                    merged[entry.id] = entry
                }
            }
        }
        return merged.values.sorted { ($0.object.created, $0.id) < ($1.object.created, $1.id) }
    }

    /// Adds a wrapping of the master key under a new secret, on every target.
    package func addKey(_ secret: borrowing UnlockSecret, cost: Argon2Cost) throws(RepositoryError) -> String {
        let (keyID, bytes) = try Self.wrap(master: masterKey, repository: id, secret: secret, cost: cost)
        for store in stores {
            do {
                try store.put("keys/\(keyID)", bytes, ifAbsent: true)
            } catch let error where error.kind == .exists {
                continue
            } catch {
                throw RepositoryError(error)
            }
        }
        return keyID
    }

    /// Resolves a full id or a unique prefix of at least 4 hex digits.
    package func resolveKey(_ prefix: String) throws(RepositoryError) -> KeyEntry {
        let all = try keys()
        let matches = all.filter { $0.id.hasPrefix(prefix.lowercased()) }
        if prefix.count < 4 {
            throw RepositoryError(.repositoryShortKeyId, message: "key id \"\(prefix)\" is too short: give at least 4 hex digits of an id that drctl key list shows")
        }
        if matches.count > 1 {
            throw RepositoryError(.repositoryAmbiguousKey, message: "key id \"\(prefix)\" is ambiguous (\(matches.count) keys match); give more digits (see drctl key list)")
        }
        guard let match = matches.first else {
            throw RepositoryError(.repositoryKeyNotFound, message: "no key with id \"\(prefix)\" (see drctl key list)")
        }
        return match
    }

    /// Removes a key from every target. Refuses the last key (the repository would be lost
    /// for good) and the key in use, unless `allowCurrent` (used by `key passwd`, after it
    /// has written the replacement).
    package func removeKey(_ keyID: String, allowCurrent: Bool = false) throws(RepositoryError) {
        let all = try keys()
        guard all.contains(where: { $0.id == keyID }) else {
            throw RepositoryError(.repositoryKeyNotFound, message: "no key with id \(keyID)")
        }
        if all.count <= 1 {
            throw RepositoryError(.repositoryLastKey, message: "key \(keyID.prefix(12)) is the repository's only key; removing it would make every backup unreadable. Add another key first (drctl key add)")
        }
        if keyID == unlockedKeyID && !allowCurrent {
            throw RepositoryError(.repositoryCurrentKey, message: "key \(keyID.prefix(12)) is the one this command was unlocked with; unlock with another key to remove it, or use drctl key passwd to replace it")
        }
        for store in stores {
            do { try store.delete("keys/\(keyID)") } catch { throw RepositoryError(error) }
        }
    }

    // MARK: - Internals

    /// One target's key objects; a damaged one (or anything else planted under `keys/`) is
    /// returned as a problem, never thrown, so that it cannot lock anyone out. Only listing
    /// the folder can fail.
    static func listKeys(in store: any ObjectStore) throws(RepositoryError) -> (entries: [KeyEntry], damaged: [RepositoryError]) {
        var entries: [KeyEntry] = []
        var damaged: [RepositoryError] = []
        let names: [String]
        do { names = try store.list(prefix: "keys/") } catch { throw RepositoryError(error) }
        for name in names {
            do throws(RepositoryError) {
                let bytes: [UInt8]
                do { bytes = try store.get(name) } catch { throw RepositoryError(error) }
                let id = String(name.dropFirst("keys/".count))
                guard ContentAddress.of(bytes) == id else {
                    throw RepositoryError(.repositoryCorrupt, message: "target \(store.targetName): \(name) does not match its content hash: it was modified or damaged (run drctl check)", context: ErrorContext(target: store.targetName, object: name))
                }
                let object = try KeyObject.decode(bytes, name: name, target: store.targetName)
                entries.append(KeyEntry(id: id, object: object, targets: [store.targetName]))
            } catch {
                var tagged = error
                tagged.context = error.context.merged(with: ErrorContext(target: store.targetName, object: name))
                damaged.append(tagged)
            }
        }
        return (entries, damaged)
    }

    static func wrap(master: borrowing SecureBytes, repository: String, secret: borrowing UnlockSecret,
                     cost: Argon2Cost) throws(RepositoryError) -> (String, [UInt8]) {
        do {
            let kdf: Argon2idParameters? = secret.kind == .passphrase
                ? Argon2idParameters.generate(opsLimit: cost.opsLimit, memLimit: cost.memLimit)
                : nil
            var object = KeyObject(format: KeyObject.formatName, kind: secret.kind, repository: repository,
                                   kdf: kdf, wrappedKey: "", created: Timestamps.now(),
                                   host: Host.name, user: Host.user)
            let kek = try secret.keyEncryptionKey(for: object)
            let sealed = try master.withUnsafeBytes { raw in
                try XChaCha20Poly1305.seal(raw, key: kek,
                                           associatedData: KeyObject.associatedData(repository: repository))
            }
            object.wrappedKey = Base64.encode(sealed)
            let bytes = try object.encoded()
            return (ContentAddress.of(bytes), bytes)
        } catch {
            throw RepositoryError(error)
        }
    }

    /// The master key if `secret` opens `object`, nil if it does not (wrong secret).
    static func unwrap(_ object: KeyObject, secret: borrowing UnlockSecret) throws(RepositoryError) -> SecureBytes? {
        guard let sealed = Base64.decode(object.wrappedKey) else {
            throw RepositoryError(.repositoryCorrupt, message: "a key object's wrappedKey is not base64")
        }
        let kek = try secret.keyEncryptionKey(for: object)
        do {
            return try XChaCha20Poly1305.openSecret(sealed, key: kek,
                                                    associatedData: KeyObject.associatedData(repository: object.repository))
        } catch where error.code == .cryptoAuthenticationFailed {
            // Only a tag that does not verify means "not this key". Anything else — no
            // locked memory left (its message carries the ulimit -l hint), a truncated
            // wrapping — is reported as what it is, never as a wrong passphrase.
            return nil
        } catch {
            throw RepositoryError(error)
        }
    }

    static func sealConfig(_ config: RepositoryConfig, master: borrowing SecureBytes) throws(RepositoryError) -> [UInt8] {
        let json: [UInt8]
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            json = Array(try encoder.encode(config))
        } catch {
            throw RepositoryError(.repositoryEncode, message: "cannot encode config: \(error)")
        }
        let key: SecureBytes
        do { key = try KeyDerivation.subkey(from: master, purpose: "config") } catch { throw RepositoryError(error) }
        return try ObjectEnvelope.seal(json, kind: .config, name: "config", key: key)
    }

    static func openConfig(_ bytes: [UInt8], master: borrowing SecureBytes, target: String) throws(RepositoryError) -> RepositoryConfig {
        let key: SecureBytes
        do { key = try KeyDerivation.subkey(from: master, purpose: "config") } catch { throw RepositoryError(error) }
        let json = try ObjectEnvelope.open(bytes, kind: .config, name: "config", target: target, key: key)
        let config: RepositoryConfig
        do {
            config = try JSONDecoder().decode(RepositoryConfig.self, from: Data(json))
        } catch {
            throw RepositoryError(.repositoryCorrupt, message: "target \(target): config decrypts but is not valid: \(error)")
        }
        guard config.format == RepositoryConfig.currentFormat else {
            throw RepositoryError(.repositoryFormat, message: "target \(target): repository format \(config.format) is not supported by this drctl (it reads format \(RepositoryConfig.currentFormat)); upgrade drctl")
        }
        return config
    }
}

/// Who and where, recorded in key objects for `key list`.
enum Host {
    static var name: String { ProcessInfo.processInfo.hostName }
    static var user: String { ProcessInfo.processInfo.userName }
}

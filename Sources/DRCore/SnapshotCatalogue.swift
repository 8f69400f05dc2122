package import DRBase
import DRConfig
package import DRRepository
package import DRTransport
package import Foundation

/// Whose snapshots: one host's backups of one mail store.
package struct SnapshotScope: Sendable, Equatable, Codable {
    package var host: String
    package var storePath: String

    package init(host: String, storePath: String) {
        self.host = host
        self.storePath = storePath
    }

    func contains(_ manifest: SnapshotManifest) -> Bool {
        manifest.host == host && manifest.storePath == storePath
    }
}

/// The snapshots of a repository — the manifests of every reachable target, not only the
/// first one's: a target that missed a backup (unmounted on Tuesday) lacks that run's
/// manifest, and reading only it would restore Monday's images as if they were the latest.
package struct SnapshotCatalogue: Sendable {
    package struct Item: Sendable {
        package var id: String
        package var manifest: SnapshotManifest
        /// The targets whose listing holds it, in configuration order.
        package var targets: [String]
    }
    /// A manifest that could not be used from any target that holds it (damaged everywhere,
    /// or invalid: an unsafe path, an impossible time).
    package struct Rejected: Sendable, Codable {
        package var snapshot: String
        package var code: ErrorCode
        package var error: String
    }
    /// A reachable target that lacks snapshots another target holds.
    package struct Gap: Sendable, Codable, Equatable {
        package var target: String
        package var snapshots: [String]
    }
    /// A target that could not be opened, or whose snapshots could not be listed.
    package struct Unreadable: Sendable, Codable {
        package var target: String
        package var code: ErrorCode
        package var error: String
        package init(target: String, code: ErrorCode, error: String) {
            self.target = target
            self.code = code
            self.error = error
        }
    }

    /// Every usable manifest, oldest first (all hosts and stores).
    package let items: [Item]
    package var rejected: [Rejected] = []
    package var gaps: [Gap] = []
    package var unreadable: [Unreadable] = []

    package init(_ items: [Item]) {
        // By the instant, not the text: another key holder may write a valid RFC 3339 time
        // with an offset or other fraction digits, which must not sort by its characters.
        let instant = { (item: Item) in Timestamps.parse(item.manifest.time) ?? .distantPast }
        self.items = items.sorted { (instant($0), $0.id) < (instant($1), $1.id) }
    }

    /// Manifests read elsewhere (their targets unknown).
    package init(_ manifests: [(name: String, manifest: SnapshotManifest)]) {
        self.init(manifests.map { Item(id: String($0.name.dropFirst("snapshots/".count)), manifest: $0.manifest, targets: []) })
    }

    /// Lists `snapshots/` on every store and reads each manifest once, from the first store
    /// that holds it and yields a valid one. Throws only when no store can be listed.
    package static func gather(_ repository: Repository, stores: [any ObjectStore],
                               keys: RepositoryKeys) throws(CoreError) -> SnapshotCatalogue {
        var listings: [(store: any ObjectStore, names: Set<String>)] = []
        var unreadable: [Unreadable] = []
        var lastError: CoreError?
        for store in stores {
            do {
                listings.append((store, Set(try store.list(prefix: "snapshots/"))))
            } catch {
                let wrapped = CoreError(RepositoryError(error))
                unreadable.append(Unreadable(target: store.targetName, code: wrapped.code, error: wrapped.message))
                lastError = wrapped
            }
        }
        if listings.isEmpty {
            throw lastError ?? CoreError(.restoreNoTarget, message: "no target could be read")
        }
        let all = listings.reduce(into: Set<String>()) { $0.formUnion($1.names) }
        var items: [Item] = []
        var rejected: [Rejected] = []
        for name in all.sorted() {
            let holders = listings.filter { $0.names.contains(name) }
            var failure: CoreError?
            var opened: SnapshotManifest?
            for holder in holders {
                do throws(CoreError) {
                    let bytes: [UInt8]
                    do { bytes = try holder.store.get(name) } catch { throw CoreError(RepositoryError(error)) }
                    do { opened = try Repository.openManifest(bytes, name: name, store: holder.store, keys: keys) } catch {
                        throw CoreError(error)
                    }
                    break
                } catch {
                    // An invalid manifest is invalid wherever it is read; a damaged copy may
                    // have a sound twin on another target.
                    if failure == nil || failure?.code != .repositoryManifestInvalid { failure = error }
                }
            }
            let id = String(name.dropFirst("snapshots/".count))
            if let opened {
                items.append(Item(id: id, manifest: opened, targets: holders.map(\.store.targetName)))
            } else if let failure {
                rejected.append(Rejected(snapshot: id, code: failure.code, error: failure.message))
            }
        }
        var catalogue = SnapshotCatalogue(items)
        catalogue.rejected = rejected
        catalogue.unreadable = unreadable
        catalogue.gaps = differences(listings.map { ($0.store.targetName, $0.names) })
        return catalogue
    }

    /// For each target, the snapshots other targets list and it does not (ids, sorted).
    package static func differences(_ listings: [(target: String, names: Set<String>)]) -> [Gap] {
        let all = listings.reduce(into: Set<String>()) { $0.formUnion($1.names) }
        return listings.compactMap { listing in
            let missing = all.subtracting(listing.names)
            guard !missing.isEmpty else { return nil }
            return Gap(target: listing.target, snapshots: missing.map { String($0.dropFirst("snapshots/".count)) }.sorted())
        }
    }

    /// Whose snapshots to choose among: `host` (default: this one) and the configured store;
    /// for another host none of whose snapshots are of that path but all of one other (a
    /// host restored elsewhere after a disaster), that one.
    package func scope(host: String?, configuredStore: String, thisHost: String) -> SnapshotScope {
        let name = host ?? thisHost
        let stores = Set(items.filter { $0.manifest.host == name }.map(\.manifest.storePath))
        if host != nil, !stores.contains(configuredStore), stores.count == 1, let only = stores.first {
            return SnapshotScope(host: name, storePath: only)
        }
        return SnapshotScope(host: name, storePath: configuredStore)
    }

    /// The manifests of one host and store.
    package func scoped(to scope: SnapshotScope) -> [Item] {
        items.filter { scope.contains($0.manifest) }
    }

    /// The hosts and stores that have snapshots, for messages.
    func scopes() -> [SnapshotScope] {
        var seen: [SnapshotScope] = []
        for item in items {
            let scope = SnapshotScope(host: item.manifest.host, storePath: item.manifest.storePath)
            if !seen.contains(scope) { seen.append(scope) }
        }
        return seen
    }

    /// Resolves a full snapshot id or a unique prefix (at least 4 digits), among every
    /// usable manifest: an id names one run exactly, whatever its host.
    package func snapshot(_ prefix: String) throws(CoreError) -> Item {
        let wanted = prefix.lowercased()
        let matches = items.filter { $0.id.hasPrefix(wanted) }
        guard prefix.count >= 4, matches.count == 1, let match = matches.first else {
            if matches.isEmpty, prefix.count >= 4, let bad = rejected.first(where: { $0.snapshot.hasPrefix(wanted) }) {
                throw CoreError(bad.code, message: bad.error)
            }
            throw CoreError(matches.isEmpty ? .snapshotNotFound : .snapshotAmbiguous,
                            message: matches.isEmpty
                                ? "no snapshot with id \(prefix) (see drctl snapshots --all-hosts)"
                                : "snapshot id \(prefix) is ambiguous (\(matches.count) match); give more digits")
        }
        return match
    }

    /// What to restore: for each mailbox the image and the snapshot it comes from, and the
    /// mailboxes that should be restored but have no image at or before the moment.
    package struct Choice: Sendable {
        package var images: [(snapshot: Item, entry: SnapshotManifest.FileEntry)]
        package var absent: [String]
        /// Snapshots passed over because their list could not be read or holds an invalid
        /// entry (a damaged node on every target, or a hostile writer's path or time).
        package var rejected: [Rejected] = []
    }

    /// For each wanted mailbox the image to restore, reading the snapshots' lists through
    /// `entries` (one mailbox: O(log n) nodes per snapshot looked at; everything: each list
    /// node once, a subtree shared with a newer snapshot skipped).
    ///
    /// - `.snapshot`: that run's images (any host: an id is explicit).
    /// - `.pointInTime(T)` and `.latest` (T = now), within `scope` only: with `mailboxes`,
    ///   each one's newest image consistent at or before T. Without, the mailboxes that
    ///   existed at T (`existing(at:)`), each with its newest image consistent at or before T.
    ///   Runs of one host and store never overlap (the run lock), so the newest snapshot that
    ///   holds a mailbox consistent by T holds its newest such image: snapshots are read
    ///   newest first and the first image found wins.
    package func select(_ selection: RestoreSelection, mailboxes: [String], scope: SnapshotScope,
                        entries: any SnapshotEntries, now: Date = Date()) throws(CoreError) -> Choice {
        let wanted = Set(mailboxes)
        var chosen: [String: (snapshot: Item, entry: SnapshotManifest.FileEntry)] = [:]
        let limit: Date
        switch selection {
        case .snapshot(let prefix):
            let item = try snapshot(prefix)
            if wanted.isEmpty {
                try entries.forEach(item, visit: { _ in true }) { file in chosen[file.path] = (item, file) }
            } else {
                for path in wanted {
                    if let file = try entries.find(path, in: item) { chosen[path] = (item, file) }
                }
            }
            if let missing = mailboxes.first(where: { chosen[$0] == nil }) {
                throw CoreError(.restoreNoSnapshot, message: "snapshot \(prefix) holds no mailbox \(missing)")
            }
            if chosen.isEmpty { throw CoreError(.restoreNoSnapshot, message: "snapshot \(prefix) holds no mailbox") }
            return Choice(images: chosen.values.sorted { $0.entry.path < $1.entry.path }, absent: [], rejected: [])
        case .pointInTime(let date): limit = date
        // "Latest" is now: a manifest from a clock set ahead must not stay the newest forever.
        case .latest: limit = now
        }
        let ours = scoped(to: scope)
        let newestFirst = ours.reversed()
        func consistent(_ file: SnapshotManifest.FileEntry) -> Bool {
            guard let at = Timestamps.parse(file.consistentAt) else { return false }
            return at <= limit
        }
        var absent: [String] = []
        var rejected: [String: Rejected] = [:]
        // A snapshot whose list cannot be used is passed over (and named), as a manifest
        // that cannot be read is: the others still restore.
        func reject(_ item: Item, _ error: CoreError) {
            rejected[item.id] = Rejected(snapshot: item.id, code: error.code, error: error.message)
        }
        let usable = { (item: Item) in rejected[item.id] == nil }
        if wanted.isEmpty {
            let existing = try Self.existing(at: limit, in: ours, entries: entries, reject: reject)
            var visited = Set<ChunkID>()
            for item in newestFirst where chosen.count < existing.count && usable(item) {
                // Collected aside: a list that fails half-way contributes nothing.
                var found: [String: SnapshotManifest.FileEntry] = [:]
                var seen: [ChunkID] = []
                do {
                    try entries.forEach(item, visit: { id in
                        guard !visited.contains(id) else { return false }
                        seen.append(id)
                        return true
                    }) { file in
                        if chosen[file.path] == nil, existing.contains(file.path), consistent(file) { found[file.path] = file }
                    }
                } catch {
                    reject(item, error)
                    continue
                }
                visited.formUnion(seen)
                for (path, file) in found where chosen[path] == nil { chosen[path] = (item, file) }
            }
            absent = existing.filter { chosen[$0] == nil }.sorted()
        } else {
            for path in mailboxes where chosen[path] == nil {
                for item in newestFirst where usable(item) {
                    do {
                        if let file = try entries.find(path, in: item), consistent(file) {
                            chosen[path] = (item, file)
                            break
                        }
                    } catch {
                        reject(item, error)
                    }
                }
            }
            if let missing = mailboxes.first(where: { chosen[$0] == nil }) {
                throw CoreError(.restoreNoSnapshot, message: noSnapshotMessage(missing, selection, limit: limit, scope: scope))
            }
        }
        if chosen.isEmpty {
            throw CoreError(.restoreNoSnapshot, message: noSnapshotMessage(nil, selection, limit: limit, scope: scope))
        }
        return Choice(images: chosen.values.sorted { $0.entry.path < $1.entry.path }, absent: absent,
                      rejected: rejected.values.sorted { $0.snapshot < $1.snapshot })
    }

    /// The mailboxes a store had at T, from the runs that ended at or before T: those of the
    /// last whole-store run whose list is usable (the ones it saved and the ones it failed to
    /// read), plus those of every partial (`--mailbox`) run after it. A mailbox deleted
    /// before that whole-store run is not in it. Without a whole-store run, the union of all of them: missing knowledge
    /// never drops a mailbox.
    static func existing(at limit: Date, in items: [Item], entries: any SnapshotEntries,
                         reject: (Item, CoreError) -> Void) throws(CoreError) -> Set<String> {
        let ended = items.filter { ($0.manifest.createdAt ?? .distantFuture) <= limit }
            .sorted { ($0.manifest.createdAt ?? .distantPast) < ($1.manifest.createdAt ?? .distantPast) }
        var set = Set<String>()
        var visited = Set<ChunkID>()
        // Newest first, down to the newest whole-store run whose list reads: a run passed
        // over (damaged or forged list) must not hide the sound runs before it.
        for item in ended.reversed() {
            var paths: [String] = []
            var seen: [ChunkID] = []
            do {
                try entries.forEach(item, visit: { id in
                    guard !visited.contains(id) else { return false }
                    seen.append(id)
                    return true
                }) { paths.append($0.path) }
            } catch {
                reject(item, error)
                continue
            }
            visited.formUnion(seen)
            set.formUnion(paths)
            set.formUnion(item.manifest.failed.map(\.path))
            if item.manifest.wholeStore { break }
        }
        return set
    }

    private func noSnapshotMessage(_ mailbox: String?, _ selection: RestoreSelection, limit: Date,
                                   scope: SnapshotScope) -> String {
        let what = mailbox.map { "mailbox \($0)" } ?? "any mailbox"
        let ours = scoped(to: scope)
        let whose = "host \(scope.host), store \(scope.storePath)"
        var note = ours.first.map { " (\(whose): the earliest snapshot is from \($0.manifest.time)" }
            ?? " (\(whose): no snapshots yet"
        let others = scopes().filter { $0 != scope }
        if !others.isEmpty {
            let names = others.map { "host \($0.host) store \($0.storePath)" }.joined(separator: "; ")
            note += "; the repository also holds snapshots of \(names): choose one with --host NAME, see drctl snapshots --all-hosts"
        }
        note += ")"
        switch selection {
        case .pointInTime:
            return "no snapshot of \(what) is consistent at or before \(Timestamps.format(limit))\(note)"
        case .snapshot(let id):
            return "snapshot \(id) holds no \(what)"
        case .latest:
            return "no snapshot holds \(what)\(note)"
        }
    }
}

/// Parses the moments operators type: RFC 3339 (`2026-11-28T03:00:00Z`, with an offset, or
/// fractional seconds), `now`, or relative (`90s ago`, `2h ago`, `3d ago`, `1w ago`).
package enum PointInTime {
    package static func parse(_ text: String, now: Date = Date()) throws(CoreError) -> Date {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "now" { return now }
        if trimmed.hasSuffix(" ago") {
            let amount = trimmed.dropLast(4).replacingOccurrences(of: " ", with: "")
            if let duration = ConfigDuration(parsing: amount) {
                return now.addingTimeInterval(-Double(duration.seconds))
            }
        }
        if let date = Timestamps.parse(trimmed) { return date }
        throw CoreError(.timeInvalid, message: "\"\(text)\" is not a time: give RFC 3339 (2026-11-28T03:00:00Z, or with an offset like +01:00), \"now\", or a relative time like \"2h ago\", \"30m ago\", \"3d ago\"")
    }
}

extension Configuration {
    /// The host name this machine's snapshots carry: `[state] host`, else the system's.
    package var hostName: String { host ?? ProcessInfo.processInfo.hostName }
}

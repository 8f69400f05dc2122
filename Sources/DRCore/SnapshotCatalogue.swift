import DRBase
import DRConfig
package import DRRepository
package import Foundation

/// The snapshots of a repository, and the choice of which image of each mailbox to restore.
package struct SnapshotCatalogue: Sendable {
    package struct Item: Sendable {
        package var id: String
        package var manifest: SnapshotManifest
    }
    package let items: [Item]

    package init(_ manifests: [(name: String, manifest: SnapshotManifest)]) {
        items = manifests.map { Item(id: String($0.name.dropFirst("snapshots/".count)), manifest: $0.manifest) }
            .sorted { $0.manifest.time < $1.manifest.time }
    }

    /// Resolves a full snapshot id or a unique prefix (at least 4 digits).
    package func snapshot(_ prefix: String) throws(CoreError) -> Item {
        let matches = items.filter { $0.id.hasPrefix(prefix.lowercased()) }
        guard prefix.count >= 4, matches.count == 1, let match = matches.first else {
            throw CoreError(matches.isEmpty ? .snapshotNotFound : .snapshotAmbiguous,
                            message: matches.isEmpty
                                ? "no snapshot with id \(prefix) (see drctl snapshots)"
                                : "snapshot id \(prefix) is ambiguous (\(matches.count) match); give more digits")
        }
        return match
    }

    /// For each wanted mailbox (all when `mailboxes` is empty) the image to restore, with
    /// the id of the snapshot it comes from.
    package func select(_ selection: RestoreSelection, mailboxes: [String]) throws(CoreError) -> [(String, SnapshotManifest.FileEntry)] {
        let wanted = Set(mailboxes)
        var chosen: [String: (String, SnapshotManifest.FileEntry)] = [:]
        switch selection {
        case .snapshot(let prefix):
            let item = try snapshot(prefix)
            for file in item.manifest.files where wanted.isEmpty || wanted.contains(file.path) {
                chosen[file.path] = (item.id, file)
            }
        case .latest, .pointInTime:
            var limit: Date?
            if case .pointInTime(let date) = selection { limit = date }
            for item in items {
                for file in item.manifest.files where wanted.isEmpty || wanted.contains(file.path) {
                    guard let at = Timestamps.parse(file.consistentAt) else { continue }
                    if let limit, at > limit { continue }
                    if let current = chosen[file.path], let currentAt = Timestamps.parse(current.1.consistentAt),
                       currentAt >= at { continue }
                    chosen[file.path] = (item.id, file)
                }
            }
        }
        if let missing = mailboxes.first(where: { chosen[$0] == nil }) {
            throw CoreError(.restoreNoSnapshot, message: noSnapshotMessage(missing, selection))
        }
        if chosen.isEmpty {
            throw CoreError(.restoreNoSnapshot, message: noSnapshotMessage(nil, selection))
        }
        return chosen.values.sorted { $0.1.path < $1.1.path }
    }

    private func noSnapshotMessage(_ mailbox: String?, _ selection: RestoreSelection) -> String {
        let what = mailbox.map { "mailbox \($0)" } ?? "any mailbox"
        let earliest = items.first.map { " (the earliest snapshot is from \($0.manifest.time))" } ?? " (the repository has no snapshots yet)"
        switch selection {
        case .pointInTime(let date):
            return "no snapshot of \(what) is consistent at or before \(Timestamps.format(date))\(earliest)"
        case .snapshot(let id):
            return "snapshot \(id) holds no \(what)"
        case .latest:
            return "no snapshot holds \(what)\(earliest)"
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

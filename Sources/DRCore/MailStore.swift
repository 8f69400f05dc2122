import DRBase
package import DRRepository

#if canImport(Glibc)
import Glibc
#endif

/// The mailboxes of a store: every regular file below `[store] path` whose path relative to
/// it matches an `include` glob (`*` and `?` within a folder, `**` across folders).
/// Symbolic links are not followed, so a link cannot pull a file from outside the store in.
package enum MailStore {
    package struct Mailbox: Sendable, Equatable {
        /// Path relative to the store: the mailbox's id in manifests and on the command line.
        package var id: String
        package var path: String
    }

    package static func mailboxes(in root: String, include: [String]) throws(CoreError) -> [Mailbox] {
        var info = stat()
        guard stat(root, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw CoreError(.storeMissing, message: "mail store \(root) (from [store] path) is not a readable folder: \(errnoDescription(errno)); fix the path in the configuration, or for the demo run scripts/gen-mailstore")
        }
        var found: [Mailbox] = []
        try walk(root: root, relative: "", include: include, into: &found)
        return found.sorted { $0.id < $1.id }
    }

    private static func walk(root: String, relative: String, include: [String],
                             into found: inout [Mailbox]) throws(CoreError) {
        let folder = relative.isEmpty ? root : "\(root)/\(relative)"
        guard let dir = opendir(folder) else {
            throw CoreError(.storeUnreadable, message: "cannot list \(folder) in the mail store: \(errnoDescription(errno))")
        }
        defer { closedir(dir) }
        var entries: [(String, UInt8)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            entries.append((name, entry.pointee.d_type))
        }
        for (name, type) in entries {
            let id = relative.isEmpty ? name : "\(relative)/\(name)"
            var kind = type
            if kind == UInt8(DT_UNKNOWN) {
                var info = stat()
                if lstat("\(root)/\(id)", &info) == 0 {
                    kind = (info.st_mode & S_IFMT) == S_IFDIR ? UInt8(DT_DIR) : (info.st_mode & S_IFMT) == S_IFREG ? UInt8(DT_REG) : 0
                }
            }
            if kind == UInt8(DT_DIR) {
                try walk(root: root, relative: id, include: include, into: &found)
            } else if kind == UInt8(DT_REG), include.contains(where: { Glob.matches($0, id) }) {
                found.append(Mailbox(id: id, path: "\(root)/\(id)"))
            }
        }
    }

    /// stat(2) facts of a mailbox and its companions: equal facts on two runs mean equal
    /// committed content (a commit changes the WAL or the file; a checkpoint changes the file).
    package static func sourceState(of path: String) -> SnapshotManifest.SourceState? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        var wal = stat()
        let hasWAL = stat(path + "-wal", &wal) == 0
        var journal = stat()
        let hasJournal = stat(path + "-journal", &journal) == 0
        return SnapshotManifest.SourceState(
            size: Int64(info.st_size), mtimeNanoseconds: nanoseconds(info.st_mtim),
            ctimeNanoseconds: nanoseconds(info.st_ctim), inode: UInt64(info.st_ino), device: UInt64(info.st_dev),
            walSize: hasWAL ? Int64(wal.st_size) : nil,
            walMtimeNanoseconds: hasWAL ? nanoseconds(wal.st_mtim) : nil,
            walCtimeNanoseconds: hasWAL ? nanoseconds(wal.st_ctim) : nil,
            walInode: hasWAL ? UInt64(wal.st_ino) : nil,
            journalPresent: hasJournal)
    }

    static func nanoseconds(_ time: timespec) -> Int64 { Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec) }
}

/// Glob patterns over slash-separated relative paths.
package enum Glob {
    package static func matches(_ pattern: String, _ path: String) -> Bool {
        match(pattern.split(separator: "/", omittingEmptySubsequences: true).map(String.init)[...],
              path.split(separator: "/").map(String.init)[...])
    }

    private static func match(_ pattern: ArraySlice<String>, _ path: ArraySlice<String>) -> Bool {
        guard let head = pattern.first else { return path.isEmpty }
        if head == "**" {
            // Zero or more folders.
            var rest = path
            while true {
                if match(pattern.dropFirst(), rest) { return true }
                guard !rest.isEmpty else { return false }
                rest = rest.dropFirst()
            }
        }
        guard let segment = path.first, fnmatch(head, segment, FNM_PERIOD) == 0 else { return false }
        return match(pattern.dropFirst(), path.dropFirst())
    }
}

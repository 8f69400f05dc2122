import DRBase
package import DRRepository

#if canImport(Glibc)
import Glibc
#endif

/// The mailboxes of a store: every regular file below `[store] path` whose path relative to
/// it matches an `include` glob (`*` and `?` within a folder, `**` across folders).
///
/// The mail store is written by the mail server's account, so anything found in it is treated
/// as hostile: folders are opened relative to their parent's descriptor with `O_NOFOLLOW`, so
/// a symbolic link (to a folder or a file) is never followed; symbolic links, FIFOs, sockets
/// and devices are never opened at all; a name that is not valid UTF-8 cannot be recorded in a
/// manifest faithfully, so it is refused. Nothing is passed over in silence: every entry that
/// is, or may hold, a mailbox and is not backed up comes back in `Listing.skipped` with its
/// reason, and a folder that cannot be listed is reported while the rest of the store is
/// still listed.
package enum MailStore {
    package struct Mailbox: Sendable, Equatable {
        /// Path relative to the store: the mailbox's id in manifests and on the command line.
        package var id: String
        /// The store's folder, as listed: one string shared by every mailbox of the listing
        /// (copying a Swift string shares its storage), so that a listing of 100,000
        /// mailboxes does not hold 100,000 absolute paths as well (docs/PROFILES.md, "Backup
        /// memory per mailbox").
        package var root: String
        /// The mailbox's absolute path, made when asked for (a few times per mailbox).
        package var path: String { root + "/" + id }
        /// The file's identity when it was listed (`lstat`): what is opened later must be
        /// this same file, not one swapped in under its name.
        package var device: UInt64 = 0
        package var inode: UInt64 = 0
        /// The file's facts as the listing found them (`fstatat` relative to its folder, after
        /// the folder was read whole), and whether the folder listed a `-wal` or `-journal`
        /// beside it: a backup stats only the companions listed (`sourceState(of:)`) instead
        /// of three `lstat`s by path per mailbox, two of them failing in a quiet store
        /// (docs/BENCHMARKS.md, "The frequent timer"). Kept to a few words per mailbox: the
        /// store's listing is held for the whole run. `listed` false: no facts, stat by path.
        /// `size` also orders the backup: the largest mailboxes first (`BackupJob.readingOrder`).
        package var listed = false
        package var size: Int64 = 0
        package var mtimeNanoseconds: Int64 = 0
        package var ctimeNanoseconds: Int64 = 0
        package var walListed = true
        package var journalListed = true
    }

    /// An entry of the store that is not backed up, with why.
    package struct Skipped: Sendable, Equatable, Codable {
        package enum Reason: String, Sendable, Codable {
            /// A symbolic link whose name matches `include`, or any link to a folder.
            case symbolicLink = "symbolic-link"
            /// A FIFO, socket or device whose name matches `include`.
            case specialFile = "special-file"
            /// A file or folder name that is not valid UTF-8.
            case nameNotUTF8 = "name-not-utf8"
            /// A folder that could not be opened or read to the end.
            case unreadableFolder = "unreadable-folder"
            /// An entry whose type could not be determined (`lstat` failed).
            case unknownType = "unknown-type"
        }
        /// The entry's path relative to the store (bytes that are not UTF-8 shown as `\xNN`).
        package var path: String
        package var reason: Reason
        /// What to tell the operator: the cause and what to do.
        package var detail: String
    }

    /// Folders below the store deeper than this are reported, not walked.
    static let maximumDepth = 64

    /// What a walk of the store found.
    package struct Listing: Sendable {
        package var mailboxes: [Mailbox] = []
        package var skipped: [Skipped] = []
    }

    /// Lists the store. Throws only when the store's own folder cannot be opened; anything
    /// below it that cannot be read is in `skipped`.
    package static func list(root: String, include: [String]) throws(CoreError) -> Listing {
        let rootFD = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else {
            let err = errno
            throw CoreError(.storeMissing, message: "mail store \(root) (from [store] path) is not a readable folder: \(errnoDescription(err)); fix the path in the configuration, or for the demo run scripts/gen-mailstore",
                            context: ErrorContext(file: root), underlying: .errno(err))
        }
        var listing = Listing()
        walk(folderFD: rootFD, root: root, relative: [], depth: 0, include: include, into: &listing)
        listing.mailboxes.sort { $0.id < $1.id }
        listing.skipped.sort { $0.path < $1.path }
        return listing
    }

    /// The mailboxes only, for callers that report nothing else (`mailboxes` in tests).
    package static func mailboxes(in root: String, include: [String]) throws(CoreError) -> [Mailbox] {
        try list(root: root, include: include).mailboxes
    }

    /// Lists the folder open as `folderFD` (and closes it). `relative` is its path from the
    /// root, as raw name bytes.
    private static func walk(folderFD: Int32, root: String, relative: [UInt8], depth: Int, include: [String],
                             into listing: inout Listing) {
        guard let dir = fdopendir(folderFD) else {
            let err = errno
            close(folderFD)
            listing.skipped.append(unreadable(relative, root: root, errno: err, what: "open"))
            return
        }
        defer { closedir(dir) }
        let fd = dirfd(dir)
        var subfolders: [[UInt8]] = []
        // The names of the folder that may be a mailbox's companion (`-wal`, `-journal`: few
        // in a quiet store, so the set is cheap to fill and to ask), and the mailboxes found,
        // whose facts are taken once the folder has been read whole.
        var companions = Set<String>()
        var found: [(id: String, name: String)] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                let err = errno
                if err != 0 {
                    // The entries read so far are kept; the folder is named as not read whole.
                    listing.skipped.append(unreadable(relative, root: root, errno: err, what: "read"))
                }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            let path = relative.isEmpty ? name : relative + [0x2F] + name
            guard let id = String(validating: path, as: UTF8.self) else {
                // Refused, not guessed at: it cannot be recorded faithfully, and two such names
                // could collide. Named when it is, or may hold, a mailbox (a folder, or a name
                // that matches include once its bad bytes are replaced); other files are not
                // mailboxes and pass unmentioned like any file include does not match.
                var info = stat()
                let isFolder = (name + [0]).withUnsafeBufferPointer { raw in
                    raw.withMemoryRebound(to: CChar.self) { fstatat(fd, $0.baseAddress!, &info, AT_SYMLINK_NOFOLLOW) }
                } == 0 && (info.st_mode & S_IFMT) == S_IFDIR
                let lossy = String(decoding: path, as: UTF8.self)
                if isFolder || include.contains(where: { Glob.matches($0, lossy) }) {
                    listing.skipped.append(Skipped(
                        path: display(path), reason: .nameNotUTF8,
                        detail: "\(display(path)): the name is not valid UTF-8, so it cannot be recorded faithfully and is not backed up; rename it (for example with convmv) and run the backup again"))
                }
                continue
            }
            // Valid UTF-8 here, since the whole path is.
            let entryName = String(decoding: name, as: UTF8.self)
            if Self.mayBeCompanion(name) { companions.insert(entryName) }
            let matches = include.contains { Glob.matches($0, id) }
            // A regular file by its directory entry: a mailbox if it matches (its facts are
            // taken below), else nothing to look at (a -wal, a -shm, any other file).
            if entry.pointee.d_type == UInt8(DT_REG) {
                if matches { found.append((id, entryName)) }
                continue
            }
            var info = stat()
            let statStatus = fstatat(fd, entryName, &info, AT_SYMLINK_NOFOLLOW)
            if statStatus != 0 {
                if let skipped = Self.unexaminable(id, errno: errno) { listing.skipped.append(skipped) }
                continue
            }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                subfolders.append(path)
            case S_IFREG:
                if matches { found.append((id, entryName)) }
            case S_IFLNK:
                // A link to a folder could hold mailboxes; a link named like a mailbox is one
                // that is not backed up. Other links (say a -wal's) are not mailboxes.
                var target = stat()
                let pointsToFolder = fstatat(fd, entryName, &target, 0) == 0
                    && (target.st_mode & S_IFMT) == S_IFDIR
                if matches || pointsToFolder {
                    listing.skipped.append(Skipped(
                        path: id, reason: .symbolicLink,
                        detail: "\(id) is a symbolic link: drctl never follows links in the mail store (one could point anywhere drctl can read); replace it with the file or folder itself"))
                }
            default:
                if matches {
                    listing.skipped.append(Skipped(
                        path: id, reason: .specialFile,
                        detail: "\(id) is not a regular file (a FIFO, socket or device): it is not opened; remove it or exclude it from [store] include"))
                }
            }
        }
        for (id, name) in found {
            var info = stat()
            guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                if let skipped = Self.unexaminable(id, errno: errno) { listing.skipped.append(skipped) }
                continue
            }
            // Replaced since readdir by something that is not a regular file: listed without
            // facts, so that the backup looks at it by path (and refuses it, named).
            let regular = (info.st_mode & S_IFMT) == S_IFREG
            func listed(_ suffix: String) -> Bool { !companions.isEmpty && companions.contains(name + suffix) }
            listing.mailboxes.append(Mailbox(id: id, root: root, device: UInt64(info.st_dev),
                                             inode: UInt64(info.st_ino), listed: regular, size: Int64(info.st_size),
                                             mtimeNanoseconds: nanoseconds(info.st_mtim),
                                             ctimeNanoseconds: nanoseconds(info.st_ctim),
                                             walListed: listed("-wal"), journalListed: listed("-journal")))
        }
        for folder in subfolders {
            // Each level holds a descriptor and a stack frame: a store nested deeper than any
            // mail server lays out is named, not walked until descriptors run out.
            guard depth < maximumDepth else {
                listing.skipped.append(Skipped(
                    path: display(folder), reason: .unreadableFolder,
                    detail: "\(display(folder)) is nested more than \(maximumDepth) folders below the mail store; it is not listed, and any mailbox in it is not backed up"))
                continue
            }
            let name = String(decoding: folder.split(separator: 0x2F).last ?? [], as: UTF8.self)
            let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
            guard child >= 0 else {
                let err = errno
                if err == ENOENT { continue }
                listing.skipped.append(unreadable(folder, root: root, errno: err, what: "open"))
                continue
            }
            walk(folderFD: child, root: root, relative: folder, depth: depth + 1, include: include, into: &listing)
        }
    }

    /// The entry for a name whose `fstatat` failed with `err`; nil when it was removed since
    /// readdir (nothing to back up).
    private static func unexaminable(_ id: String, errno err: Int32) -> Skipped? {
        guard err != ENOENT else { return nil }
        return Skipped(path: id, reason: .unknownType,
                       detail: "\(id): cannot examine it (\(errnoDescription(err))); it is not backed up")
    }

    /// Whether a name ends in `-wal` or `-journal`.
    static func mayBeCompanion(_ name: [UInt8]) -> Bool {
        name.count > walSuffix.count && name.suffix(walSuffix.count).elementsEqual(walSuffix)
            || name.count > journalSuffix.count && name.suffix(journalSuffix.count).elementsEqual(journalSuffix)
    }
    static let walSuffix: [UInt8] = Array("-wal".utf8)
    static let journalSuffix: [UInt8] = Array("-journal".utf8)

    private static func unreadable(_ relative: [UInt8], root: String, errno err: Int32, what: String) -> Skipped {
        let shown = relative.isEmpty ? "." : display(relative)
        return Skipped(path: shown, reason: .unreadableFolder,
                       detail: "cannot \(what) the folder \(shown) of the mail store \(root): \(errnoDescription(err)); the mailboxes in it are not backed up. Give drctl's user read and search access to it")
    }

    /// A path for messages: UTF-8 as is, other bytes as `\xNN`.
    static func display(_ bytes: [UInt8]) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        let digits = Array("0123456789ABCDEF")
        return bytes.map { byte in
            (0x20..<0x7F).contains(byte) && byte != 0x5C
                ? String(UnicodeScalar(byte))
                : "\\x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 15)])
        }.joined()
    }

    /// lstat(2) facts of a mailbox and its companions: equal facts on two runs mean equal
    /// committed content (a commit changes the WAL or the file; a checkpoint changes the file),
    /// provided they were taken long enough after the last write (`BackupJob.settled`). Links
    /// are not followed: a mailbox that became a link is not unchanged, it is read (and refused).
    package static func sourceState(of path: String) -> SnapshotManifest.SourceState? {
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        var wal = stat()
        let hasWAL = lstat(path + "-wal", &wal) == 0
        var journal = stat()
        let hasJournal = lstat(path + "-journal", &journal) == 0
        return sourceState(info, wal: hasWAL ? wal : nil, journalPresent: hasJournal)
    }

    /// The facts of a listed mailbox: the file's as the listing took them (after reading its
    /// folder whole), its `-wal` and `-journal` looked at now only if the folder listed them.
    /// Sound as the three `lstat`s are: the file's facts are equal to its entry's, so the file
    /// did not change from the entry's moment to the listing's, at which the companions the
    /// folder did not list were absent; so at that moment the mailbox was as its entry says.
    package static func sourceState(of mailbox: Mailbox) -> SnapshotManifest.SourceState? {
        guard mailbox.listed else { return sourceState(of: mailbox.path) }
        var wal = stat()
        let hasWAL = mailbox.walListed && lstat(mailbox.path + "-wal", &wal) == 0
        var journal = stat()
        let hasJournal = mailbox.journalListed && lstat(mailbox.path + "-journal", &journal) == 0
        return SnapshotManifest.SourceState(
            size: mailbox.size, mtimeNanoseconds: mailbox.mtimeNanoseconds, ctimeNanoseconds: mailbox.ctimeNanoseconds,
            inode: mailbox.inode, device: mailbox.device, wal: hasWAL ? wal : nil, journalPresent: hasJournal)
    }

    /// The facts of a mailbox from its `lstat` and its `-wal`'s (nil: none).
    static func sourceState(_ info: stat, wal: stat?, journalPresent: Bool) -> SnapshotManifest.SourceState {
        SnapshotManifest.SourceState(
            size: Int64(info.st_size), mtimeNanoseconds: nanoseconds(info.st_mtim),
            ctimeNanoseconds: nanoseconds(info.st_ctim), inode: UInt64(info.st_ino), device: UInt64(info.st_dev),
            wal: wal, journalPresent: journalPresent)
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

extension SnapshotManifest.SourceState {
    /// The facts of a file given as numbers, and of its `-wal` as its `lstat` (nil: none).
    init(size: Int64, mtimeNanoseconds: Int64, ctimeNanoseconds: Int64, inode: UInt64, device: UInt64,
         wal: stat?, journalPresent: Bool) {
        self.init(size: size, mtimeNanoseconds: mtimeNanoseconds, ctimeNanoseconds: ctimeNanoseconds,
                  inode: inode, device: device,
                  walSize: wal.map { Int64($0.st_size) },
                  walMtimeNanoseconds: wal.map { MailStore.nanoseconds($0.st_mtim) },
                  walCtimeNanoseconds: wal.map { MailStore.nanoseconds($0.st_ctim) },
                  walInode: wal.map { UInt64($0.st_ino) },
                  journalPresent: journalPresent)
    }
}

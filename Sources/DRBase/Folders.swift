#if canImport(Glibc)
package import Glibc
#endif

/// Creating folders, the way drctl wants them everywhere: every missing component made with
/// mode 0700 (drctl's folders hold nothing for other users) unless the caller says otherwise.
package enum Folders {
    /// Creates `path` (absolute, or relative to the working folder) and its missing parents.
    /// The parent of each folder created is fsynced, so that the new folder survives a crash
    /// as well as what is later written into it.
    /// - Returns: 0, or the errno of the first component that could not be created (ENOTDIR
    ///   when a component exists and is not a folder).
    /// Not discardable: a folder that could not be made would otherwise surface later as a
    /// puzzling error about a file inside it.
    package static func create(_ path: String, mode: mode_t = 0o700) -> Int32 {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") where part != "." {
            let parent = current.isEmpty ? "/" : current
            current += "/" + part
            if mkdir(current, mode) == 0 {
                let err = sync(parent)
                if err != 0 { return err }
                continue
            }
            let err = errno
            guard err == EEXIST else { return err }
            // EEXIST also for a file or a dangling symbolic link: say so here, not later as a
            // puzzling ENOTDIR or ENOENT from whatever is written below it.
            var info = stat()
            if stat(current, &info) != 0 { return errno }
            if (info.st_mode & S_IFMT) != S_IFDIR { return ENOTDIR }
        }
        return 0
    }

    /// fsyncs a folder, making the names created, renamed or removed in it durable.
    /// - Returns: 0, or the errno of the failure. A folder that cannot be opened for reading
    ///   (EACCES) or a filesystem that cannot sync folders (EINVAL, ENOSYS, EOPNOTSUPP) counts
    ///   as synced: nothing more can be done there, and failing would refuse writes that
    ///   worked.
    package static func sync(_ path: String) -> Int32 {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { return errno == EACCES ? 0 : errno }
        defer { close(fd) }
        if fsync(fd) != 0 {
            let err = errno
            return err == EINVAL || err == ENOSYS || err == EOPNOTSUPP ? 0 : err
        }
        return 0
    }

    /// The folder `path` is in: "/a/b/c" → "/a/b", "/x" → "/", a bare name → ".".
    package static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

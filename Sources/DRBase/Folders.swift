#if canImport(Glibc)
package import Glibc
#endif

/// Creating folders, the way drctl wants them everywhere: every missing component of an
/// absolute path made with mode 0700 (drctl's folders hold nothing for other users).
package enum Folders {
    /// Creates `path` and its missing parents.
    /// - Returns: 0, or the errno of the first component that could not be created.
    @discardableResult
    package static func create(_ path: String, mode: mode_t = 0o700) -> Int32 {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, mode) != 0 && errno != EEXIST { return errno }
        }
        return 0
    }

    /// The folder part of `path` ("/a/b/c" → "/a/b"), or nil for a bare name or "/x".
    package static func parent(of path: String) -> String? {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return nil }
        return String(path[..<slash])
    }
}

/// Lexical path handling (no file-system access, so no symlink surprises at load time).
package enum Paths {
    /// `path` made absolute against `base` (itself absolute), then normalized.
    package static func resolve(_ path: String, against base: String) -> String {
        normalize(path.hasPrefix("/") ? path : base + "/" + path)
    }

    /// Collapses `//`, `.` and `..` components; `..` never climbs above `/`.
    package static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": _ = parts.popLast()
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// The folder part of an absolute path (`/etc/drctl/drctl.toml` → `/etc/drctl`).
    package static func directory(of path: String) -> String {
        let normalized = normalize(path)
        guard let slash = normalized.lastIndex(of: "/"), slash != normalized.startIndex else { return "/" }
        return String(normalized[..<slash])
    }
}

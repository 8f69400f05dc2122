/// Lexical path handling (no file-system access, so no symlink surprises at load time).
package enum Paths {
    /// `path` made absolute against `base` (itself absolute), then normalized.
    package static func resolve(_ path: String, against base: String) -> String {
        normalize(path.hasPrefix("/") ? path : base + "/" + path)
    }

    /// A path typed on the command line, made absolute against the working folder, as the
    /// operator who typed it means it (`--new-key-file keys/x.key` in /root is
    /// /root/keys/x.key, never /keys/x.key); messages then name the file unambiguously.
    package static func fromCommandLine(_ path: String) -> String {
        path.hasPrefix("/") ? normalize(path) : resolve(path, against: workingDirectory())
    }

    /// The working folder (getcwd), or / when it cannot be determined (it was removed).
    package static func workingDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
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

#if canImport(Glibc)
import Glibc
#endif

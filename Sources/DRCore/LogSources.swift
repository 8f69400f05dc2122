import DRBase
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Which files `[logs] sources` names, and which of them are rotated (docs/LOGS.md, "Which
/// files retain takes").
///
/// Rotated means: the file name carries a rotation suffix — logrotate's numbered `.N` or its
/// `dateext` `-YYYYMMDD` (optionally `-YYYYMMDDHH`), optionally followed by a compressor's
/// extension — and the file has not been modified for `[logs] settle`. A name without such a
/// suffix (`mail.log`) is the file being written and is never taken, whatever the globs match.
enum LogSources {
    struct Candidate {
        var path: String
        var compression: Compression
        var modified: Int64
        var size: Int64
    }

    enum Compression: String {
        case none, zstd
    }

    enum Verdict {
        case rotated(Candidate)
        /// Not taken: the live file, or a rotation not settled yet.
        case waiting(path: String, reason: String)
        /// Cannot be taken; stays where it is, named in the summary.
        case refused(path: String, reason: String)
    }

    /// Every match of every glob, each once, sorted.
    static func matches(_ patterns: [String]) -> [String] {
        var found = Set<String>()
        for pattern in patterns {
            var result = glob_t()
            defer { globfree(&result) }
            guard glob(pattern, 0, nil, &result) == 0 else { continue }
            for index in 0..<Int(result.gl_pathc) {
                if let path = result.gl_pathv[index] { found.insert(String(cString: path)) }
            }
        }
        return found.sorted()
    }

    /// The suffix after the base name, if the name is a rotation: ".1", ".1.zst", "-20261207.gz".
    static func rotationSuffix(_ name: String) -> (compressor: String?, rotated: Bool) {
        var stem = Substring(name)
        var compressor: String?
        for extensionName in ["zst", "gz", "bz2", "xz", "lz4", "Z"] where stem.hasSuffix("." + extensionName) {
            compressor = extensionName
            stem = stem.dropLast(extensionName.count + 1)
            break
        }
        if let dot = stem.lastIndex(of: "."), dot > stem.startIndex {
            let digits = stem[stem.index(after: dot)...]
            if !digits.isEmpty, digits.count <= 6, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) {
                return (compressor, true)
            }
        }
        if let dash = stem.lastIndex(of: "-"), dash > stem.startIndex {
            let digits = stem[stem.index(after: dash)...]
            if (digits.count == 8 || digits.count == 10), digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) {
                return (compressor, true)
            }
        }
        return (compressor, false)
    }

    static func classify(_ path: String, now: Int64, settle: Int64) -> Verdict {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            return .refused(path: path, reason: "cannot be examined: \(errnoDescription(errno))")
        }
        let type = info.st_mode & S_IFMT
        if type == S_IFLNK {
            return .refused(path: path, reason: "is a symbolic link; drctl retains only regular files (point [logs] sources at the files themselves)")
        }
        if type == S_IFDIR { return .waiting(path: path, reason: "is a folder") }
        if type != S_IFREG {
            return .refused(path: path, reason: "is not a regular file")
        }
        let name = (path as NSString).lastPathComponent
        let (compressor, rotated) = rotationSuffix(name)
        guard rotated else {
            return .waiting(path: path, reason: "has no rotation suffix (.N or -YYYYMMDD): taken as the file being written")
        }
        if let compressor, compressor != "zst" {
            return .refused(path: path, reason: "is compressed with \(compressor), which drctl does not read (it links zstd only). In the logrotate configuration set compresscmd /usr/bin/zstd, compressext .zst and uncompresscmd /usr/bin/unzstd, or nocompress / delaycompress so that drctl takes the rotation before it is compressed")
        }
        let modified = Int64(info.st_mtim.tv_sec)
        if now - modified < settle {
            return .waiting(path: path, reason: "was modified \(now - modified)s ago, less than [logs] settle (\(settle)s)")
        }
        return .rotated(Candidate(path: path, compression: compressor == "zst" ? .zstd : .none,
                                  modified: modified, size: Int64(info.st_size)))
    }
}

import DRBase
#if canImport(Glibc)
import Glibc
#endif

/// Finds, reads and validates the configuration.
package enum ConfigurationLoader {
    /// The system-wide file, used when neither `--config` nor `$DRCTL_CONFIG` names one.
    package static let systemPath = "/etc/drctl/drctl.toml"
    /// The environment variable naming a configuration file.
    package static let environmentVariable = "DRCTL_CONFIG"
    /// Larger files are refused: a configuration is a few kilobytes, and this stops a wrong
    /// `--config` (a mailbox, a log) from being read whole into memory.
    package static let maximumFileSize = 1 << 20

    /// The effective configuration, from the first of: `explicitPath` (`--config`),
    /// `$DRCTL_CONFIG`, `systemPath` if it exists, else the embedded default.
    ///
    /// A file named explicitly (by `--config` or `$DRCTL_CONFIG`) must exist: drctl never
    /// falls back silently from a file the operator asked for. An empty `$DRCTL_CONFIG`
    /// counts as unset (as `DRCTL_CONFIG= drctl …` is the shell's way to unset it).
    /// - Throws: `ConfigError`; `.noInput` when a named file does not exist, `.configuration`
    ///   for everything wrong inside a file.
    package static func load(explicitPath: String?, environment: [String: String],
                            systemPath: String = ConfigurationLoader.systemPath) throws(ConfigError) -> Configuration {
        if let explicitPath {
            return try load(file: explicitPath, environment: environment, origin: "--config")
        }
        if let named = environment[environmentVariable], !named.isEmpty {
            return try load(file: named, environment: environment, origin: "$\(environmentVariable)")
        }
        switch fileStatus(systemPath) {
        case .missing:
            return Configuration.embeddedDefault(dataDirectory: try dataDirectory(environment: environment))
        case .present, .other:
            // Exists (or cannot even be looked at): read it, and let the read report why not.
            return try load(file: systemPath, environment: environment, origin: "default location")
        }
    }

    /// Reads and validates one file.
    /// - Parameter origin: how the file was chosen, for the not-found message.
    package static func load(file path: String, environment: [String: String] = [:],
                            origin: String = "--config") throws(ConfigError) -> Configuration {
        guard !path.isEmpty else {
            throw ConfigError(code: .configEmptyPath, file: nil,
                              text: "\(origin) names an empty path: give the path of a drctl.toml file")
        }
        let text = try readFile(path, origin: origin)
        return try decode(text: text, path: path, workingDirectory: Paths.workingDirectory())
    }

    /// Parses and validates configuration text; the path is used for messages and to resolve
    /// relative paths (against the file's folder).
    package static func decode(text: String, path: String,
                              workingDirectory: String = "/") throws(ConfigError) -> Configuration {
        let absolute = Paths.resolve(path, against: workingDirectory)
        let root = try TOML.parse(text, path: path)
        var decoder = ConfigurationDecoder(file: path, baseDirectory: Paths.directory(of: absolute))
        return try decoder.decode(root, source: .file(absolute))
    }

    /// `$XDG_DATA_HOME/drctl`, else `$HOME/.local/share/drctl` (XDG Base Directory rules:
    /// a relative XDG_DATA_HOME is ignored).
    package static func dataDirectory(environment: [String: String]) throws(ConfigError) -> String {
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") {
            return Paths.resolve("drctl", against: xdg)
        }
        if let home = environment["HOME"], home.hasPrefix("/") {
            return Paths.resolve(".local/share/drctl", against: home)
        }
        throw ConfigError(code: .configNoDataFolder, file: nil,
                          text: "no configuration file (\(systemPath) does not exist) and no data folder for the embedded default: set HOME or XDG_DATA_HOME, or name a file with --config PATH")
    }

    // MARK: Files

    private enum FileStatus { case present, missing, other }

    private static func fileStatus(_ path: String) -> FileStatus {
        var info = stat()
        if stat(path, &info) == 0 { return .present }
        return errno == ENOENT ? .missing : .other
    }


    static func readFile(_ path: String, origin: String) throws(ConfigError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let err = errno
            if err == ENOENT {
                throw ConfigError(code: .configNotFound, file: nil,
                                  text: "configuration file \(path) (named by \(origin)) does not exist: check the path, or create it (drctl config example prints a starting point)",
                                  underlying: .errno(err))
            }
            throw ConfigError(code: err == EACCES ? .configPermission : .configIo, file: nil,
                              text: "cannot open configuration file \(path): \(errnoDescription(err))",
                              underlying: .errno(err))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ConfigError(code: .configIo, file: nil,
                              text: "cannot stat configuration file \(path): \(errnoDescription(errno))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ConfigError(code: .configInvalidValue, file: nil,
                              text: "configuration file \(path) is not a regular file: expected a drctl.toml file")
        }
        guard Int(info.st_size) <= maximumFileSize else {
            throw ConfigError(code: .configInvalidValue, file: nil,
                              text: "configuration file \(path) is \(info.st_size) bytes; a drctl configuration is at most 1 MiB — is this the right file?")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ConfigError(code: .configIo, file: nil,
                                  text: "cannot read configuration file \(path): \(errnoDescription(errno))")
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            guard bytes.count <= maximumFileSize else {
                throw ConfigError(code: .configInvalidValue, file: nil,
                                  text: "configuration file \(path) is larger than 1 MiB — is this the right file?")
            }
        }
        return try decodeUTF8(bytes, path: path)
    }

    /// The text of the file; TOML must be UTF-8, and an invalid byte is located like a
    /// syntax error.
    static func decodeUTF8(_ bytes: [UInt8], path: String) throws(ConfigError) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var line = 1, column = 1
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
            case .emptyInput:
                return String(decoding: bytes, as: UTF8.self)
            case .error:
                throw ConfigError(code: .configSyntax, file: path, line: line, column: column,
                                  text: "invalid UTF-8: a TOML file must be UTF-8 text (convert it, e.g. with iconv -t UTF-8)")
            }
        }
    }
}

/// The effective configuration of one drctl run.
///
/// Section and key names are those of docs/CONFIGURATION.md (operators and scripts depend on
/// them). Secrets never live here: only the paths of files that hold them.
public struct Configuration: Sendable, Equatable {
    /// Where this configuration came from.
    public enum Source: Sendable, Equatable {
        /// A TOML file at this path.
        case file(String)
        /// The embedded default, rooted at this data folder.
        case embedded(dataDirectory: String)
    }

    public var source: Source
    public var store: Store
    public var repository: Repository
    public var targets: [Target]
    public var objectives: Objectives
    public var retention: Retention
    public var drill: Drill
    public var logs: Logs
    /// Local state: caches, locks of this host, temporary files. Never holds secrets in clear.
    public var stateDirectory: String

    public init(source: Source, store: Store, repository: Repository, targets: [Target],
                objectives: Objectives, retention: Retention, drill: Drill, logs: Logs,
                stateDirectory: String) {
        self.source = source
        self.store = store
        self.repository = repository
        self.targets = targets
        self.objectives = objectives
        self.retention = retention
        self.drill = drill
        self.logs = logs
        self.stateDirectory = stateDirectory
    }

    /// `[store]`: the live mail store.
    public struct Store: Sendable, Equatable {
        /// Folder holding the mailboxes.
        public var path: String
        /// Glob patterns (relative to `path`, `**` crosses folders) naming the mailboxes.
        public var include: [String]
        /// Page size to assume when neither the database header nor the WAL tells it
        /// (a SQLCipher database with no WAL). Nil: refuse such a file with a clear error.
        public var fallbackPageSize: Int?

        public init(path: String, include: [String], fallbackPageSize: Int? = nil) {
            self.path = path
            self.include = include
            self.fallbackPageSize = fallbackPageSize
        }
    }

    /// `[repository]`: how to unlock the repository's master key.
    public struct Repository: Sendable, Equatable {
        /// A file holding the passphrase (first line, trailing newline ignored).
        public var passwordFile: String?
        /// A file holding a raw repository key (base64 of 32 random bytes).
        public var keyFile: String?
        /// Argon2id cost for new passphrase wrappings.
        public var argon2Memory: Int
        public var argon2Iterations: Int

        public init(passwordFile: String?, keyFile: String?,
                    argon2Memory: Int = 256 * 1024 * 1024, argon2Iterations: Int = 3) {
            self.passwordFile = passwordFile
            self.keyFile = keyFile
            self.argon2Memory = argon2Memory
            self.argon2Iterations = argon2Iterations
        }
    }

    /// One `[[target]]`: a complete copy of the repository.
    public struct Target: Sendable, Equatable {
        public enum Location: Sendable, Equatable {
            /// `file:///abs/path`: a local folder (or a mounted NFS share).
            case file(path: String)
            /// `s3://bucket/prefix`.
            case s3(bucket: String, prefix: String)
        }

        public var name: String
        public var location: Location
        /// The URL exactly as written, for messages.
        public var url: String
        public var endpoint: String?
        public var region: String?
        /// TOML file with access_key_id, secret_access_key[, session_token]; mode 0600.
        public var credentialsFile: String?
        /// The line of `[[target]]` in the configuration file (0 for the embedded default).
        public var line: Int

        public init(name: String, location: Location, url: String, endpoint: String? = nil,
                    region: String? = nil, credentialsFile: String? = nil, line: Int = 0) {
            self.name = name
            self.location = location
            self.url = url
            self.endpoint = endpoint
            self.region = region
            self.credentialsFile = credentialsFile
            self.line = line
        }
    }

    /// `[objectives]`: recovery point and recovery time objectives.
    public struct Objectives: Sendable, Equatable {
        public var rpo: ConfigDuration
        public var rto: ConfigDuration
        public init(rpo: ConfigDuration, rto: ConfigDuration) {
            self.rpo = rpo
            self.rto = rto
        }
    }

    /// `[retention]`: which snapshots prune keeps.
    public struct Retention: Sendable, Equatable {
        public var keepLast: Int
        public var keepDaily: Int
        public var keepWeekly: Int
        public var keepMonthly: Int
        public init(keepLast: Int = 0, keepDaily: Int, keepWeekly: Int, keepMonthly: Int) {
            self.keepLast = keepLast
            self.keepDaily = keepDaily
            self.keepWeekly = keepWeekly
            self.keepMonthly = keepMonthly
        }
    }

    /// `[drill]`: restore drills.
    public struct Drill: Sendable, Equatable {
        public var every: ConfigDuration
        public var sample: Int
        public var signingKeyFile: String?
        public var reportDirectory: String
        public init(every: ConfigDuration, sample: Int, signingKeyFile: String?,
                    reportDirectory: String) {
            self.every = every
            self.sample = sample
            self.signingKeyFile = signingKeyFile
            self.reportDirectory = reportDirectory
        }
    }

    /// `[logs]`: mail-server log anonymization and retention.
    public struct Logs: Sendable, Equatable {
        public enum IPMode: String, Sendable, Equatable, CaseIterable {
            case prefixPreserving = "prefix-preserving"
            case truncate
        }
        public var sources: [String]
        public var retain: ConfigDuration
        public var ip: IPMode
        public var keyFile: String?
        public init(sources: [String], retain: ConfigDuration, ip: IPMode, keyFile: String?) {
            self.sources = sources
            self.retain = retain
            self.ip = ip
            self.keyFile = keyFile
        }
    }
}

/// A duration written as in the configuration: `90s`, `30m`, `24h`, `7d`, `2w`.
public struct ConfigDuration: Sendable, Equatable, Comparable, CustomStringConvertible {
    public var seconds: Int64
    public init(seconds: Int64) { self.seconds = seconds }

    /// Parses `<number><unit>` with unit s, m, h, d or w; nil when malformed.
    public init?(parsing text: String) {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800]
        guard let unit = text.last, let factor = units[unit],
              let value = Int64(text.dropLast()), value >= 0,
              value <= Int64.max / factor else { return nil }
        self.seconds = value * factor
    }

    public var description: String {
        for (unit, factor) in [("w", Int64(604800)), ("d", 86400), ("h", 3600), ("m", 60)]
        where seconds != 0 && seconds % factor == 0 {
            return "\(seconds / factor)\(unit)"
        }
        return "\(seconds)s"
    }

    public static func < (a: ConfigDuration, b: ConfigDuration) -> Bool { a.seconds < b.seconds }
}

/// The effective configuration of one drctl run.
///
/// Section and key names are those of docs/CONFIGURATION.md (operators and scripts depend on
/// them). Secrets never live here: only the paths of files that hold them.
package struct Configuration: Sendable, Equatable {
    /// Where this configuration came from.
    package enum Source: Sendable, Equatable {
        /// A TOML file at this path.
        case file(String)
        /// The embedded default, rooted at this data folder.
        case embedded(dataDirectory: String)
    }

    package var source: Source
    package var store: Store
    package var repository: Repository
    package var targets: [Target]
    package var objectives: Objectives
    package var retention: Retention
    package var drill: Drill
    package var logs: Logs
    /// Local state: caches, locks of this host, temporary files. Never holds secrets in clear.
    package var stateDirectory: String
    /// `[state] host`: the name this machine's snapshots carry (default: its host name). Two
    /// machines must never share one, or each would take the other's snapshots for its own.
    package var host: String?
    package var prune = Prune()
    package var backup = Backup()
    /// `[metrics]`: the Prometheus textfile, if any.
    package var metrics: Metrics

    package init(source: Source, store: Store, repository: Repository, targets: [Target],
                objectives: Objectives, retention: Retention, drill: Drill, logs: Logs,
                stateDirectory: String, metrics: Metrics = Metrics()) {
        self.source = source
        self.store = store
        self.repository = repository
        self.targets = targets
        self.objectives = objectives
        self.retention = retention
        self.drill = drill
        self.logs = logs
        self.stateDirectory = stateDirectory
        self.metrics = metrics
    }

    /// `[store]`: the live mail store.
    package struct Store: Sendable, Equatable {
        /// Folder holding the mailboxes.
        package var path: String
        /// Glob patterns (relative to `path`, `**` crosses folders) naming the mailboxes.
        package var include: [String]
        /// Page size to assume when neither the database header nor the WAL tells it
        /// (a SQLCipher database with no WAL). Nil: refuse such a file with a clear error.
        package var fallbackPageSize: Int?

        package init(path: String, include: [String], fallbackPageSize: Int? = nil) {
            self.path = path
            self.include = include
            self.fallbackPageSize = fallbackPageSize
        }
    }

    /// `[repository]`: how to unlock the repository's master key.
    package struct Repository: Sendable, Equatable {
        /// A file holding the passphrase (first line, trailing newline ignored).
        package var passwordFile: String?
        /// A file holding a raw repository key (64 hexadecimal digits: 32 random bytes).
        package var keyFile: String?
        /// `password_credential`: the NAME of `LoadCredential=NAME:/path`; the passphrase is
        /// `$CREDENTIALS_DIRECTORY/NAME`, resolved when it is read (DRCore's
        /// `RepositoryCredentials`), so that the configuration loads outside the unit too.
        package var passwordCredential: String?
        /// `key_credential`: as `passwordCredential`, for a key file.
        package var keyCredential: String?
        /// Argon2id cost for new passphrase wrappings.
        package var argon2Memory: Int
        package var argon2Iterations: Int

        package init(passwordFile: String?, keyFile: String?,
                    passwordCredential: String? = nil, keyCredential: String? = nil,
                    argon2Memory: Int = 256 * 1024 * 1024, argon2Iterations: Int = 3) {
            self.passwordFile = passwordFile
            self.keyFile = keyFile
            self.passwordCredential = passwordCredential
            self.keyCredential = keyCredential
            self.argon2Memory = argon2Memory
            self.argon2Iterations = argon2Iterations
        }
    }

    /// One `[[target]]`: a complete copy of the repository.
    package struct Target: Sendable, Equatable {
        package enum Location: Sendable, Equatable {
            /// `file:///abs/path`: a local folder (or a mounted NFS share).
            case file(path: String)
            /// `s3://bucket/prefix`.
            case s3(bucket: String, prefix: String)
        }

        package var name: String
        package var location: Location
        /// The URL exactly as written, for messages.
        package var url: String
        package var endpoint: String?
        package var region: String?
        /// TOML file with access_key_id, secret_access_key[, session_token]; mode 0600.
        package var credentialsFile: String?
        /// The line of `[[target]]` in the configuration file (0 for the embedded default).
        package var line: Int
        /// Restore reads the targets in ascending priority (then in file order); lower first.
        package var priority: Int
        /// How an s3:// target is reached (defaults for a file:// target, which ignores them).
        package var s3: S3Options

        package init(name: String, location: Location, url: String, endpoint: String? = nil,
                    region: String? = nil, credentialsFile: String? = nil, line: Int = 0,
                    priority: Int = Configuration.Defaults.targetPriority, s3: S3Options = S3Options()) {
            self.name = name
            self.location = location
            self.url = url
            self.endpoint = endpoint
            self.region = region
            self.credentialsFile = credentialsFile
            self.line = line
            self.priority = priority
            self.s3 = s3
        }

        /// The keys of `[[target]]` that only s3:// targets take.
        package struct S3Options: Sendable, Equatable {
            /// `addressing`: "path" puts the bucket in the path (every S3 server understands
            /// it); "virtual" in the host name (AWS's preference for new buckets).
            package enum Addressing: String, Sendable, Equatable {
                case path
                case virtualHost = "virtual"
            }

            /// `object_lock = { mode = "compliance", days = 30 }`: every object drctl writes is
            /// retained that long in that mode; the bucket must have Object Lock enabled.
            package struct ObjectLock: Sendable, Equatable {
                package enum Mode: String, Sendable, Equatable {
                    case compliance
                    case governance
                }
                package var mode: Mode
                package var days: Int
                package init(mode: Mode, days: Int) {
                    self.mode = mode
                    self.days = days
                }
            }

            /// `systemd_credential`: the credentials file is `$CREDENTIALS_DIRECTORY/NAME`.
            package var systemdCredential: String?
            package var addressing: Addressing
            /// `ca_file`: a PEM bundle of the certificate authorities to trust instead of the
            /// system's.
            package var caFile: String?
            /// `allow_insecure_http`: accept an http:// endpoint (a loopback test server).
            package var allowInsecureHTTP: Bool
            /// `allow_public`: accept a bucket that anonymous users can read or list.
            package var allowPublic: Bool
            package var objectLock: ObjectLock?
            /// `upload_limit`: bytes per second sent to this target; nil is unlimited.
            package var uploadLimit: Int64?
            /// `concurrency`: requests in flight to this target.
            package var concurrency: Int
            /// `part_size`: objects larger than this are uploaded in parts of this size.
            package var partSize: Int64
            /// `request_timeout`: one request's limit, retries not included.
            package var requestTimeout: ConfigDuration

            package init(systemdCredential: String? = nil, addressing: Addressing = .path, caFile: String? = nil,
                         allowInsecureHTTP: Bool = false, allowPublic: Bool = false, objectLock: ObjectLock? = nil,
                         uploadLimit: Int64? = nil, concurrency: Int = Configuration.Defaults.targetConcurrency,
                         partSize: Int64 = Configuration.Defaults.targetPartSize,
                         requestTimeout: ConfigDuration = Configuration.Defaults.targetRequestTimeout) {
                self.systemdCredential = systemdCredential
                self.addressing = addressing
                self.caFile = caFile
                self.allowInsecureHTTP = allowInsecureHTTP
                self.allowPublic = allowPublic
                self.objectLock = objectLock
                self.uploadLimit = uploadLimit
                self.concurrency = concurrency
                self.partSize = partSize
                self.requestTimeout = requestTimeout
            }
        }
    }

    /// `[objectives]`: recovery point and recovery time objectives.
    package struct Objectives: Sendable, Equatable {
        package var rpo: ConfigDuration
        package var rto: ConfigDuration
        package init(rpo: ConfigDuration, rto: ConfigDuration) {
            self.rpo = rpo
            self.rto = rto
        }
    }

    /// `[retention]`: which snapshot records forget keeps (docs/RETENTION.md: each rule is
    /// applied to each mailbox's own history; buckets are UTC).
    package struct Retention: Sendable, Equatable {
        package var keepLast: Int
        package var keepHourly: Int
        package var keepDaily: Int
        package var keepWeekly: Int
        package var keepMonthly: Int
        package var keepYearly: Int
        /// Every snapshot this close to the newest one of its host and store; nil: no such rule.
        package var keepWithin: ConfigDuration?
        package init(keepLast: Int = 0, keepHourly: Int = 0, keepDaily: Int, keepWeekly: Int, keepMonthly: Int,
                     keepYearly: Int = 0, keepWithin: ConfigDuration? = nil) {
            self.keepLast = keepLast
            self.keepHourly = keepHourly
            self.keepDaily = keepDaily
            self.keepWeekly = keepWeekly
            self.keepMonthly = keepMonthly
            self.keepYearly = keepYearly
            self.keepWithin = keepWithin
        }

        /// Whether no rule keeps anything (refused: forget would delete every snapshot but
        /// the newest).
        package var keepsNothing: Bool {
            keepLast + keepHourly + keepDaily + keepWeekly + keepMonthly + keepYearly == 0 && keepWithin == nil
        }
    }

    /// `[backup]`: how a backup stores what it reads.
    package struct Backup: Sendable, Equatable {
        /// How pages are compressed before they are encrypted. Every choice reads back the
        /// same way (a zstd frame, or the page as it is), so it can be changed at any time;
        /// pages already stored keep their form (they are deduplicated by content).
        package enum Compression: String, Sendable, Equatable {
            /// zstd level 1 on each page.
            case standard
            /// zstd's fastest level (-1: literals left uncompressed): measured on plain
            /// pages in 4 KiB frames, 399 → 580–606 MB/s per core for 2.9 % more stored; a
            /// full backup of the bench's plain store takes 13 % less CPU (docs/PROFILES.md,
            /// docs/BENCHMARKS.md).
            case fast
            /// Pages stored as they are: for stores whose pages are encrypted anyway, where
            /// zstd only finds out that nothing shrinks.
            case off
        }
        package var compression = Compression.standard
        package init() {}
    }

    /// `[prune]`: when prune runs, and how long it waits before deleting what it marked.
    package struct Prune: Sendable, Equatable {
        /// `drctl run` prunes when the last prune on a target is older than this.
        package var every = ConfigDuration(seconds: 7 * 86400)
        /// A marked pack is deleted no sooner than this after the mark (and only once every
        /// backup that was running at the mark has ended).
        package var grace = ConfigDuration(seconds: 12 * 3600)
        /// A backup's run record (`locks/run-*`) ends this long after the backup started: a
        /// killed backup is not waited for longer, and a backup still running then does not
        /// commit (prune may have deleted what it relied on).
        package var backupExpiry = ConfigDuration(seconds: 24 * 3600)
        package init() {}
    }

    /// `[drill]`: restore drills.
    package struct Drill: Sendable, Equatable {
        package var every: ConfigDuration
        package var sample: Int
        package var signingKeyFile: String?
        package var reportDirectory: String
        /// A validation hook: the program and its first arguments; the restored mailbox's path
        /// is appended as the last argument (no shell).
        package var verifyCommand: [String]?
        /// Which mailboxes (globs relative to the store) the hook runs for.
        package var verifyMailboxes: [String]
        /// The canary mailbox, relative to the store (nil: no canary).
        package var canary: String?
        package init(every: ConfigDuration, sample: Int, signingKeyFile: String?,
                    reportDirectory: String, verifyCommand: [String]? = nil, verifyMailboxes: [String] = ["**"],
                    canary: String? = nil) {
            self.every = every
            self.sample = sample
            self.signingKeyFile = signingKeyFile
            self.reportDirectory = reportDirectory
            self.verifyCommand = verifyCommand
            self.verifyMailboxes = verifyMailboxes
            self.canary = canary
        }
    }

    /// `[metrics]`: where runs leave their Prometheus metrics for node_exporter's textfile
    /// collector. Optional: without `textfile`, no metrics are written.
    package struct Metrics: Sendable, Equatable {
        /// The `.prom` file, rewritten whole (temporary file, then rename) after each run.
        package var textfile: String?
        package init(textfile: String? = nil) { self.textfile = textfile }
    }

    /// `[logs]`: mail-server log anonymization and retention.
    package struct Logs: Sendable, Equatable {
        package enum IPMode: String, Sendable, Equatable, CaseIterable {
            case prefixPreserving = "prefix-preserving"
            case truncate
        }
        package var sources: [String]
        package var retain: ConfigDuration
        package var ip: IPMode
        package var keyFile: String?
        /// The log master key as a systemd credential (`$CREDENTIALS_DIRECTORY/NAME`), instead
        /// of `keyFile`.
        package var keyCredential: String?
        /// How long a rotated log file must have been left unmodified before `logs retain`
        /// takes it (a rotation that is still being written, e.g. by a compressor, is not).
        package var settle: ConfigDuration
        /// `[logs.anonymize]`: what the anonymizer replaces and how (docs/LOGS.md).
        package var anonymize = Anonymization()
        package init(sources: [String], retain: ConfigDuration, ip: IPMode, keyFile: String?,
                     keyCredential: String? = nil, settle: ConfigDuration = Configuration.Defaults.logsSettle) {
            self.sources = sources
            self.retain = retain
            self.ip = ip
            self.keyFile = keyFile
            self.keyCredential = keyCredential
            self.settle = settle
        }

        /// `[logs.anonymize]`: methods per kind of personal data, the JSON fields to treat as
        /// personal, the longest line handled whole.
        package struct Anonymization: Sendable, Equatable {
            package enum IPMethod: String, Sendable, Equatable, CaseIterable {
                case ipcryptPfx = "ipcrypt-pfx"
                case cryptoPan = "crypto-pan"
                case truncate
            }
            /// E-mail addresses: a keyed token for the whole address, a token for the local part
            /// with the domain kept, or a fixed marker.
            package enum AddressMethod: String, Sendable, Equatable, CaseIterable {
                case token
                case tokenKeepDomain = "token-keep-domain"
                case redact
            }
            package enum UsernameMethod: String, Sendable, Equatable, CaseIterable {
                case token, redact
            }
            package var ip: IPMethod = .ipcryptPfx
            /// Bits kept by `truncate`.
            package var ipv4Prefix = 24
            package var ipv6Prefix = 48
            package var addresses: AddressMethod = .tokenKeepDomain
            package var usernames: UsernameMethod = .token
            /// JSON-lines fields (dotted paths) whose whole value is personal, on top of the scan
            /// of every string value.
            package var jsonFields: [String] = Anonymization.defaultJSONFields
            /// Lines longer than this are anonymized in pieces cut at a separator.
            package var maxLine = 65536

            package static let defaultJSONFields = ["user", "username", "login", "sasl_username", "remote_user",
                                                    "client.ip", "client_ip", "remote_addr", "ip", "rip"]
            package init() {}
        }
    }
}

/// A duration written as in the configuration: `90s`, `30m`, `24h`, `7d`, `2w`.
package struct ConfigDuration: Sendable, Equatable, Comparable, CustomStringConvertible {
    package var seconds: Int64
    package init(seconds: Int64) { self.seconds = seconds }

    /// Parses `<number><unit>` with unit s, m, h, d or w; nil when malformed.
    package init?(parsing text: String) {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800]
        guard let unit = text.last, let factor = units[unit],
              let value = Int64(text.dropLast()), value >= 0,
              value <= Int64.max / factor else { return nil }
        self.seconds = value * factor
    }

    package var description: String {
        for (unit, factor) in [("w", Int64(604800)), ("d", 86400), ("h", 3600), ("m", 60)]
        where seconds != 0 && seconds % factor == 0 {
            return "\(seconds / factor)\(unit)"
        }
        return "\(seconds)s"
    }

    package static func < (a: ConfigDuration, b: ConfigDuration) -> Bool { a.seconds < b.seconds }
}

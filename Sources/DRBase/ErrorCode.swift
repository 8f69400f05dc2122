/// Every error code drctl reports, in one place: its stable name, the exit status it ends the
/// process with, and the line docs/EXIT-CODES.md gives it.
///
/// Codes are typed so that a throw site cannot misspell one or give the same code two exit
/// statuses; the name (`repository.wrong-key`) is what scripts, `--json` output and the docs
/// see. `ErrorCatalogueTests` fails when a code lacks its documented line or the docs list a
/// code that no longer exists, and `drctl debug error-codes` prints the table the docs hold.
package enum ErrorCode: String, CaseIterable, Sendable, Codable {

    case internalDefect = "internal"

    case processRlimit = "process.rlimit"
    case processDumpable = "process.dumpable"

    case fileMissing = "file.missing"
    case fileStat = "file.stat"
    case fileNotRegular = "file.not-regular"
    case fileModeTooOpen = "file.mode-too-open"
    case fileExists = "file.exists"
    case fileNoSpace = "file.no-space"
    case filePermission = "file.permission"
    case fileIo = "file.io"

    case lockBusy = "lock.busy"
    case lockOpen = "lock.open"

    case timeInvalid = "time.invalid"

    case configSyntax = "config.syntax"
    case configUnknownKey = "config.unknown-key"
    case configUnknownSection = "config.unknown-section"
    case configType = "config.type"
    case configMissingKey = "config.missing-key"
    case configInvalidValue = "config.invalid-value"
    case configEmptyPath = "config.empty-path"
    case configNotFound = "config.not-found"
    case configNoDataFolder = "config.no-data-folder"
    case configPermission = "config.permission"
    case configIo = "config.io"
    case configSecretFile = "config.secret-file"

    case cryptoInit = "crypto.init"
    case cryptoSecureMemory = "crypto.secure-memory"
    case cryptoNegativeLength = "crypto.negative-length"
    case cryptoInvalidLength = "crypto.invalid-length"
    case cryptoTruncated = "crypto.truncated"
    case cryptoAuthenticationFailed = "crypto.authentication-failed"
    case cryptoEncrypt = "crypto.encrypt"
    case cryptoHash = "crypto.hash"
    case cryptoKdf = "crypto.kdf"
    case cryptoKdfOutOfMemory = "crypto.kdf-out-of-memory"
    case cryptoKdfParameters = "crypto.kdf-parameters"
    case cryptoKdfPurpose = "crypto.kdf-purpose"
    case cryptoSigningKey = "crypto.signing-key"
    case cryptoKeyFileInvalid = "crypto.key-file-invalid"
    case cryptoSecretFileMissing = "crypto.secret-file-missing"
    case cryptoSecretFileOpen = "crypto.secret-file-open"
    case cryptoSecretFileRead = "crypto.secret-file-read"
    case cryptoSecretFileChanged = "crypto.secret-file-changed"
    case cryptoSecretFileEmpty = "crypto.secret-file-empty"
    case cryptoSecretFileTooLarge = "crypto.secret-file-too-large"
    case cryptoSecretFileExists = "crypto.secret-file-exists"
    case cryptoSecretFileCreate = "crypto.secret-file-create"
    case cryptoSecretFileWrite = "crypto.secret-file-write"

    case compressionCorrupt = "compression.corrupt"
    case compressionOutputTooLarge = "compression.output-too-large"
    case compressionZstd = "compression.zstd"

    case sqliteOpen = "sqlite.open"
    case sqliteIo = "sqlite.io"
    case sqliteError = "sqlite.error"

    case transportNotFound = "transport.not-found"
    case transportExists = "transport.exists"
    case transportInvalidKey = "transport.invalid-key"
    case transportShortRead = "transport.short-read"
    case transportPermission = "transport.permission"
    case transportNoSpace = "transport.no-space"
    case transportIo = "transport.io"
    case transportNotAFile = "transport.not-a-file"
    case transportTooLarge = "transport.too-large"
    case transportNetwork = "transport.network"
    case transportTLS = "transport.tls"
    case transportAuth = "transport.auth"
    case transportNoBucket = "transport.no-bucket"
    case transportClockSkew = "transport.clock-skew"
    case transportServer = "transport.server"
    case transportProtocol = "transport.protocol"
    case transportIntegrity = "transport.integrity"
    case transportLocked = "transport.locked"

    case imageMissing = "image.missing"
    case imagePermission = "image.permission"
    case imageIo = "image.io"
    case imageNotRegular = "image.not-regular"
    case imageBusy = "image.busy"
    case imageUnstable = "image.unstable"
    case imageReplaced = "image.replaced"
    case imageVanished = "image.vanished"
    case imageLockHoldExceeded = "image.lock-hold-exceeded"
    case imageReleased = "image.released"
    case imageBufferTooSmall = "image.buffer-too-small"
    case imageDbTruncated = "image.db-truncated"
    case imageWalShort = "image.wal-short"
    case imageWalSalt = "image.wal-salt"
    case imageWalChecksum = "image.wal-checksum"
    case imageWalNoCommit = "image.wal-no-commit"
    case imageWalPageSize = "image.wal-page-size"
    case imageJournalPageSize = "image.journal-page-size"
    case imageShmShort = "image.shm-short"
    case imageShmInconsistent = "image.shm-inconsistent"
    case imageHeaderInvalid = "image.header-invalid"
    case imageOutputExists = "image.output-exists"
    case imageOutputIsInput = "image.output-is-input"
    case imageOutputPermission = "image.output-permission"
    case imageOutput = "image.output"

    case storeMissing = "store.missing"
    case storeUnreadable = "store.unreadable"

    case targetCredentials = "target.credentials"
    case targetPublic = "target.public"
    case targetObjectLock = "target.object-lock"

    case repositoryNoTarget = "repository.no-target"
    case repositoryTargetsUnavailable = "repository.targets-unavailable"
    case repositoryTooManyTargets = "repository.too-many-targets"
    case repositoryNotInitialized = "repository.not-initialized"
    case repositoryExists = "repository.exists"
    case repositoryMismatch = "repository.mismatch"
    case repositoryFormat = "repository.format"
    case repositoryWrongKey = "repository.wrong-key"
    case repositoryEmptyPassphrase = "repository.empty-passphrase"
    case repositoryKeyFileFormat = "repository.key-file-format"
    case repositoryKeyFormat = "repository.key-format"
    case repositoryKeyNotFound = "repository.key-not-found"
    case repositoryShortKeyId = "repository.short-key-id"
    case repositoryAmbiguousKey = "repository.ambiguous-key"
    case repositoryLastKey = "repository.last-key"
    case repositoryCurrentKey = "repository.current-key"
    case repositoryCorrupt = "repository.corrupt"
    case repositoryEncode = "repository.encode"
    case repositoryInternal = "repository.internal"
    case repositoryPackDamaged = "repository.pack-damaged"
    case repositoryPackLost = "repository.pack-lost"
    case repositoryBlobDamaged = "repository.blob-damaged"
    case repositoryPackMissing = "repository.pack-missing"
    case repositoryManifestDamaged = "repository.manifest-damaged"
    case repositoryBadTree = "repository.bad-tree"
    case repositoryBadList = "repository.bad-list"
    case repositoryCache = "repository.cache"
    case repositoryAllTargetsFailed = "repository.all-targets-failed"

    case secretNone = "secret.none"
    case secretNoNewSecret = "secret.no-new-secret"
    case secretNoTerminal = "secret.no-terminal"
    case secretRead = "secret.read"
    case secretMismatch = "secret.mismatch"
    case secretCredential = "secret.credential"

    case backupUnknownMailbox = "backup.unknown-mailbox"
    case backupSpool = "backup.spool"
    case backupInternal = "backup.internal"
    case backupExpired = "backup.expired"
    case pruneBusy = "prune.busy"
    case pruneLeaseLost = "prune.lease-lost"
    case pruneUnreadable = "prune.unreadable"
    case runBusy = "run.busy"
    case logsKey = "logs.key"
    case logsAddress = "logs.address"
    case logsDay = "logs.day"
    case logsDayDestroyed = "logs.day-destroyed"
    case logsState = "logs.state"
    case logsSource = "logs.source"
    case logsIncomplete = "logs.incomplete"
    case logsObject = "logs.object"
    case logsPattern = "logs.pattern"
    case logsInput = "logs.input"
    case logsOutput = "logs.output"

    case snapshotNotFound = "snapshot.not-found"
    case snapshotAmbiguous = "snapshot.ambiguous"

    case restoreNoDestination = "restore.no-destination"
    case restoreUnknownTarget = "restore.unknown-target"
    case restoreNoSnapshot = "restore.no-snapshot"
    case restoreNoTarget = "restore.no-target"
    case restoreDestination = "restore.destination"
    case restoreExists = "restore.exists"
    case restoreCreate = "restore.create"
    case restoreIo = "restore.io"
    case restoreSizeMismatch = "restore.size-mismatch"
    case restoreBadManifest = "restore.bad-manifest"
    case restoreInsideStore = "restore.inside-store"
    case restoreLiveCompanion = "restore.live-companion"
    case restoreUnsafePath = "restore.unsafe-path"
    case restoreOwner = "restore.owner"
    case repositoryManifestInvalid = "repository.manifest-invalid"

    case checkSubset = "check.subset"
    case checkPackMissing = "check.pack-missing"
    case checkPackSize = "check.pack-size"
    case checkPackUnreferenced = "check.pack-unreferenced"
    case checkStrayObject = "check.stray-object"
    case checkIncompleteWrites = "check.incomplete-writes"
    case checkSnapshotsDiffer = "check.snapshots-differ"

    case targetUnknown = "target.unknown"
    case syncObjectDiffers = "sync.object-differs"
    case syncHeldBack = "sync.held-back"

    case statusRpoExceeded = "status.rpo-exceeded"
    case statusNoSnapshot = "status.no-snapshot"
    case statusDrillReport = "status.drill-report"

    case drillResultsMissing = "drill.results-missing"
    case drillResultsInvalid = "drill.results-invalid"
    case drillFailed = "drill.failed"
    case drillUnknown = "drill.unknown"
    case drillNoMailbox = "drill.no-mailbox"
    case drillPoint = "drill.point"
    case drillScratch = "drill.scratch"
    case canaryUnset = "canary.unset"
    case canaryWrite = "canary.write"
    case reportSignature = "report.signature"
    case reportChain = "report.chain"
    case reportHead = "report.head"
    case reportMalformed = "report.malformed"
    case reportNotFound = "report.not-found"
    case reportNoPublicKey = "report.no-public-key"
    case reportPublicKey = "report.public-key"
    case reportTargetsUnreadable = "report.targets-unreadable"
    case reportConcurrent = "report.concurrent"
    case reportNames = "report.names"

    /// The exit status and the documented meaning, side by side so that each code's whole
    /// definition is one line.
    package var definition: (exitStatus: ExitStatus, meaning: String) {
        switch self {
        case .internalDefect: (.failure, "a defect in drctl: an unexpected error; report it with the message")
        case .processRlimit: (.failure, "core dumps could not be disabled (setrlimit RLIMIT_CORE)")
        case .processDumpable: (.failure, "the process could not be marked non-dumpable (prctl PR_SET_DUMPABLE)")
        case .fileMissing: (.noInput, "a secret or private file named by the configuration does not exist")
        case .fileStat: (.ioError, "a secret or private file could not be examined (stat failed)")
        case .fileNotRegular: (.configuration, "a secret or private file is not a regular file")
        case .fileModeTooOpen: (.configuration, "a secret file is readable or writable by group or others; chmod 600 it")
        case .fileExists: (.cannotCreate, "a file written once exists already and is left as it is")
        case .fileNoSpace: (.ioError, "a local file cannot be written: the disk is full")
        case .filePermission: (.permissionDenied, "a local file or folder cannot be written: permission denied")
        case .fileIo: (.ioError, "a local file cannot be written or synced")
        case .lockBusy: (.temporaryFailure, "another drctl job holds the state folder's lock; wait for it, then retry")
        case .lockOpen: (.ioError, "the state folder's lock file cannot be opened")
        case .timeInvalid: (.usage, "a time on the command line is neither RFC 3339, now, nor a relative time like 2h ago")
        case .configSyntax: (.configuration, "the configuration file is not valid TOML (line and column given)")
        case .configUnknownKey: (.configuration, "the configuration has a key drctl does not know (a did-you-mean is given)")
        case .configUnknownSection: (.configuration, "the configuration has a section drctl does not know")
        case .configType: (.configuration, "a configuration value has the wrong type")
        case .configMissingKey: (.configuration, "a required configuration key is missing")
        case .configInvalidValue: (.configuration, "a configuration value is out of range or malformed")
        case .configEmptyPath: (.usage, "--config or $DRCTL_CONFIG names an empty path")
        case .configNotFound: (.noInput, "the configuration file named by --config or $DRCTL_CONFIG does not exist")
        case .configNoDataFolder: (.configuration, "no configuration file and no HOME or XDG_DATA_HOME for the embedded default's data folder")
        case .configPermission: (.permissionDenied, "the configuration file cannot be opened: permission denied")
        case .configIo: (.ioError, "the configuration file cannot be read")
        case .configSecretFile: (.configuration, "a secret file named by the configuration is missing or unsafe")
        case .cryptoInit: (.failure, "libsodium could not be initialised")
        case .cryptoSecureMemory: (.failure, "locked memory for key material could not be allocated; raise ulimit -l or LimitMEMLOCK=")
        case .cryptoNegativeLength: (.failure, "a defect: a secret of negative length was requested")
        case .cryptoInvalidLength: (.dataError, "a key, nonce or sealed object has the wrong length")
        case .cryptoTruncated: (.dataError, "an encrypted object is shorter than its nonce and tag: it was truncated")
        case .cryptoAuthenticationFailed: (.dataError, "an encrypted object failed authentication: damaged, or sealed with another key")
        case .cryptoEncrypt: (.failure, "encryption failed (the message is too long)")
        case .cryptoHash: (.failure, "BLAKE2b failed")
        case .cryptoKdf: (.failure, "Argon2id key derivation failed")
        case .cryptoKdfOutOfMemory: (.temporaryFailure, "Argon2id could not get the memory its parameters require")
        case .cryptoKdfParameters: (.dataError, "a key object's Argon2id parameters are unusable")
        case .cryptoKdfPurpose: (.failure, "a defect: an invalid subkey purpose")
        case .cryptoSigningKey: (.failure, "the Ed25519 key pair could not be derived from its seed")
        case .cryptoKeyFileInvalid: (.configuration, "a signing key file does not hold an Ed25519 seed")
        case .cryptoSecretFileMissing: (.noInput, "a secret file does not exist")
        case .cryptoSecretFileOpen: (.ioError, "a secret file cannot be opened")
        case .cryptoSecretFileRead: (.ioError, "a secret file cannot be read")
        case .cryptoSecretFileChanged: (.configuration, "a secret file changed while it was being opened")
        case .cryptoSecretFileEmpty: (.configuration, "a secret file is empty")
        case .cryptoSecretFileTooLarge: (.configuration, "a secret file is too large to be a key or passphrase file")
        case .cryptoSecretFileExists: (.cannotCreate, "a new secret file would replace an existing file")
        case .cryptoSecretFileCreate: (.ioError, "a new secret file cannot be created")
        case .cryptoSecretFileWrite: (.ioError, "a new secret file cannot be written")
        case .compressionCorrupt: (.dataError, "compressed data is corrupt: the object was damaged after it was written")
        case .compressionOutputTooLarge: (.dataError, "compressed data expands beyond its bound (a damaged or hostile object)")
        case .compressionZstd: (.failure, "libzstd reported an error")
        case .sqliteOpen: (.ioError, "a local database of drctl's (the node cache) cannot be opened")
        case .sqliteIo: (.ioError, "a local database of drctl's failed with an I/O error or a full disk")
        case .sqliteError: (.failure, "a local database of drctl's reported an error")
        case .transportNotFound: (.noInput, "an object does not exist on a target")
        case .transportExists: (.cannotCreate, "a write-once object already exists on a target")
        case .transportInvalidKey: (.dataError, "an object name is not valid")
        case .transportShortRead: (.ioError, "an object shrank while being read")
        case .transportPermission: (.permissionDenied, "a target refused access (file permissions)")
        case .transportNoSpace: (.ioError, "a target is full")
        case .transportIo: (.ioError, "a target failed with an I/O error")
        case .transportNotAFile: (.dataError, "an object on a target is not a regular file (a symlink, folder or device)")
        case .transportTooLarge: (.dataError, "an object on a target is larger than any object of its kind")
        case .transportNetwork: (.temporaryFailure, "an S3 endpoint could not be reached, or the connection broke, on every retry")
        case .transportTLS: (.configuration, "TLS to an S3 endpoint was refused: its certificate or host name did not verify (see ca_file), or TLS is older than 1.2")
        case .transportAuth: (.permissionDenied, "an S3 target refused the credentials or the permission (wrong secret, unknown key, denied by policy, other region)")
        case .transportNoBucket: (.configuration, "an S3 target's bucket does not exist")
        case .transportClockSkew: (.configuration, "this host's clock is too far from an S3 server's for signed requests")
        case .transportServer: (.temporaryFailure, "an S3 server failed or throttled (5xx, 429, SlowDown) on every retry")
        case .transportProtocol: (.ioError, "an S3 endpoint answered something that is not S3 (unexpected status or XML)")
        case .transportIntegrity: (.ioError, "an S3 server stored other bytes than drctl sent (ETag differs from the MD5)")
        case .transportLocked: (.permissionDenied, "an object is under Object Lock retention and cannot be deleted yet")
        case .imageMissing: (.noInput, "a mailbox file does not exist (removed or renamed)")
        case .imagePermission: (.permissionDenied, "a mailbox or its -shm cannot be opened (read and write for the -shm)")
        case .imageIo: (.ioError, "reading a mailbox failed at the operating-system level")
        case .imageNotRegular: (.dataError, "a mailbox path is not a regular file")
        case .imageBusy: (.temporaryFailure, "the mailbox stayed busy (locks, a checkpoint) for longer than the retry timeout")
        case .imageUnstable: (.temporaryFailure, "a mailbox copied to standard output changed and cannot be rewound")
        case .imageReplaced: (.temporaryFailure, "a mailbox was replaced by another file while it was copied")
        case .imageVanished: (.noInput, "a mailbox was removed while it was copied")
        case .imageLockHoldExceeded: (.temporaryFailure, "the image was not read within the allowed lock-hold time")
        case .imageReleased: (.failure, "a defect: an image was read after it was released")
        case .imageBufferTooSmall: (.failure, "a defect: the read buffer is smaller than one page")
        case .imageDbTruncated: (.dataError, "a mailbox database is truncated")
        case .imageWalShort: (.dataError, "a WAL frame inside the committed prefix is cut short")
        case .imageWalSalt: (.dataError, "a WAL frame inside the committed prefix carries the wrong salts")
        case .imageWalChecksum: (.dataError, "a WAL frame inside the committed prefix fails its checksum")
        case .imageWalNoCommit: (.dataError, "the frame the -shm names as the last commit is not a commit frame")
        case .imageWalPageSize: (.dataError, "the WAL's page size differs from the database's")
        case .imageJournalPageSize: (.dataError, "the hot journal's page size differs from the database's")
        case .imageShmShort: (.temporaryFailure, "the -shm is still being initialised by a connection")
        case .imageShmInconsistent: (.dataError, "the -shm wal-index does not match the WAL")
        case .imageHeaderInvalid: (.dataError, "a header of a mailbox's database, WAL, -shm or hot journal holds an impossible value")
        case .imageOutputExists: (.cannotCreate, "the image's output file exists (pass --force to replace it)")
        case .imageOutputIsInput: (.usage, "the image's output file is the mailbox itself")
        case .imageOutputPermission: (.permissionDenied, "the image's output file cannot be created: permission denied")
        case .imageOutput: (.ioError, "the image's output file cannot be created or written")
        case .storeMissing: (.noInput, "the mail store folder is missing or not a folder")
        case .storeUnreadable: (.permissionDenied, "a folder of the mail store cannot be listed")
        case .targetCredentials: (.configuration, "an S3 target's credentials file (or systemd credential) is missing, not private (chmod 600) or malformed")
        case .targetPublic: (.configuration, "an S3 bucket answers anonymous requests (list or read): refused unless the target says allow_public = true")
        case .targetObjectLock: (.configuration, "object_lock is configured for an S3 target whose bucket has no Object Lock (or whose server lacks it)")
        case .repositoryNoTarget: (.configuration, "no target is configured")
        case .repositoryTargetsUnavailable: (.failure, "no configured target could be opened")
        case .repositoryTooManyTargets: (.configuration, "more targets are configured than a repository supports (16)")
        case .repositoryNotInitialized: (.noInput, "a target holds no repository (run drctl init)")
        case .repositoryExists: (.cannotCreate, "init found a repository on a target already")
        case .repositoryMismatch: (.dataError, "two targets hold different repositories")
        case .repositoryFormat: (.dataError, "the repository's format is newer than this drctl reads")
        case .repositoryWrongKey: (.permissionDenied, "the passphrase or key file opens none of the repository's keys")
        case .repositoryEmptyPassphrase: (.configuration, "the passphrase is empty")
        case .repositoryKeyFileFormat: (.configuration, "a key file does not hold exactly 64 hexadecimal digits")
        case .repositoryKeyFormat: (.dataError, "a key object has a format this drctl does not read")
        case .repositoryKeyNotFound: (.noInput, "no key has the given id")
        case .repositoryShortKeyId: (.usage, "a key id prefix is shorter than 4 hex digits")
        case .repositoryAmbiguousKey: (.usage, "a key id prefix matches several keys")
        case .repositoryLastKey: (.usage, "removing the repository's only key is refused")
        case .repositoryCurrentKey: (.usage, "removing the key the command was unlocked with is refused")
        case .repositoryCorrupt: (.dataError, "a repository object is malformed")
        case .repositoryEncode: (.failure, "a repository object could not be encoded")
        case .repositoryInternal: (.failure, "a defect in the repository layer")
        case .repositoryPackDamaged: (.integrity, "a pack is damaged (its trailer or header is wrong)")
        case .repositoryPackLost: (.integrity, "a pack a target held on this host's last run is missing or of another size now (a backup stores what it held there again)")
        case .repositoryBlobDamaged: (.integrity, "a blob in a pack fails authentication")
        case .repositoryPackMissing: (.integrity, "a blob's pack is missing on a target, or shorter than the blob's ref says")
        case .repositoryManifestDamaged: (.integrity, "a snapshot record does not match its name")
        case .repositoryBadTree: (.integrity, "a chunk-tree node is malformed")
        case .repositoryBadList: (.integrity, "a mailbox-list node is malformed or does not fit its parent (the message names the mailboxes it holds)")
        case .repositoryCache: (.ioError, "the node cache's folder (in the [state] folder) cannot be created")
        case .repositoryAllTargetsFailed: (.failure, "every target failed during the run")
        case .secretNone: (.configuration, "no way to unlock the repository is configured")
        case .secretNoNewSecret: (.usage, "no new secret was given (--new-password-file or --new-key-file)")
        case .secretNoTerminal: (.configuration, "a passphrase is needed but there is no terminal to ask on")
        case .secretRead: (.ioError, "the passphrase could not be read from the terminal")
        case .secretMismatch: (.usage, "the two passphrases typed differ")
        case .secretCredential: (.configuration, "the repository's systemd credential (password_credential or key_credential) is not there: $CREDENTIALS_DIRECTORY is unset, or the unit lacks its LoadCredential= line")
        case .backupUnknownMailbox: (.noInput, "a mailbox given with --mailbox is not in the mail store")
        case .backupSpool: (.ioError, "the spool file for a rollback-mode image cannot be created")
        case .backupInternal: (.failure, "a defect in the backup job")
        case .backupExpired: (.temporaryFailure, "the backup ran past [prune] backup_expiry and did not commit (a prune may have deleted what it relied on); run it again")
        case .pruneBusy: (.temporaryFailure, "another prune (of this or another host) holds the target's lease; prune later")
        case .pruneLeaseLost: (.temporaryFailure, "the prune's lease ran out before it finished; nothing unsafe was deleted; prune again")
        case .pruneUnreadable: (.dataError, "a snapshot or list could not be read, so what it uses is unknown; prune deletes nothing there until check is clean")
        case .logsKey: (.configuration, "a log pseudonym key file is not 64 hex digits (32 bytes), or has halves ipcrypt-pfx refuses")
        case .logsAddress: (.usage, "an address given to drctl logs ip is neither IPv4 nor IPv6")
        case .logsDay: (.usage, "a log day is not YYYY-MM-DD, is in the future, or is older than [logs] retain: its key is not made")
        case .logsDayDestroyed: (.noInput, "the key of a log day was destroyed once the day left the retention window; its pseudonyms can no longer be recomputed")
        case .logsState: (.ioError, "the log keys' files in the state folder (<state>/logs/: day salts, destroyed.json, the retain journal) cannot be read or written")
        case .logsSource: (.degraded, "a rotated log file was not retained (gzip-compressed, not a regular file, unreadable, or older than the retention window): it is left in place, named in the summary")
        case .logsIncomplete: (.degraded, "logs retain: not every target confirmed an anonymized copy (a target unreachable or failing), so the originals are kept; the next run completes")
        case .logsPattern: (.usage, "drctl logs show --grep: the pattern is not a regular expression")
        case .logsObject: (.dataError, "a retained log object on a target failed authentication or does not decompress")
        case .logsInput: (.noInput, "a log to anonymize is missing, not a regular file, or unreadable; nothing was written")
        case .logsOutput: (.cannotCreate, "an anonymized log cannot be written (output folder missing, an output that is also an input, a write error); no partial output is left")
        case .runBusy: (.alreadyRunning, "another drctl run holds this host's run lock; this one did nothing")
        case .snapshotNotFound: (.noInput, "no snapshot has the given id")
        case .snapshotAmbiguous: (.usage, "a snapshot id prefix matches several snapshots")
        case .restoreNoDestination: (.usage, "restore needs a destination folder (--to DIR)")
        case .restoreUnknownTarget: (.usage, "--target names no configured target")
        case .restoreNoSnapshot: (.noInput, "no snapshot matches the requested point in time or id")
        case .restoreNoTarget: (.failure, "no target could be read")
        case .restoreDestination: (.cannotCreate, "the destination folder cannot be created")
        case .restoreExists: (.cannotCreate, "a restored file would replace an existing file (pass --force)")
        case .restoreCreate: (.cannotCreate, "a restored file's temporary file cannot be created")
        case .restoreIo: (.ioError, "a restored file cannot be written or synced")
        case .restoreSizeMismatch: (.integrity, "a restored file's size differs from the snapshot's record")
        case .restoreBadManifest: (.dataError, "a snapshot record's entry is malformed")
        case .restoreInsideStore: (.usage, "the destination is inside the live mail store (pass --in-place, with the mail server stopped)")
        case .restoreLiveCompanion: (.cannotCreate, "a -wal, -shm or -journal beside a restored file would be applied to it (pass --in-place to move it aside)")
        case .restoreUnsafePath: (.cannotCreate, "a folder on the way to a restored file is a symbolic link or not a folder")
        case .restoreOwner: (.usage, "--owner names no such user or group")
        case .repositoryManifestInvalid: (.integrity, "a snapshot record holds an unsafe path or an impossible time (ignored; written by a faulty or hostile key holder)")
        case .checkSubset: (.usage, "--read-data-subset is not N/T or a percentage")
        case .checkPackMissing: (.integrity, "check: a pack that a snapshot's refs name is missing")
        case .checkPackSize: (.integrity, "check: a pack on a target is shorter than a ref into it needs")
        case .checkPackUnreferenced: (.success, "check note: a pack no snapshot uses (a killed run's, or left by prune; prune removes it)")
        case .checkStrayObject: (.success, "check note: an object whose name is not a pack name")
        case .checkSnapshotsDiffer: (.success, "check note: a target lacks snapshots that another target holds (a backup it missed; drctl sync copies them)")
        case .targetUnknown: (.usage, "--target names no configured target")
        case .syncObjectDiffers: (.degraded, "sync: an object has different sizes on two targets, so one copy is damaged; sync never replaces an object (delete the damaged copy, then sync again)")
        case .syncHeldBack: (.degraded, "sync: a snapshot record was not copied to a target because a pack it uses could not be copied there first")
        case .checkIncompleteWrites: (.success, "check note: temporary files of writes that never completed (removed after an hour)")
        case .statusRpoExceeded: (.objectiveMissed, "status: the newest restorable point of a mailbox is older than [objectives] rpo (the message names the worst mailbox and its age; run drctl backup and read journalctl -u drctl.service)")
        case .statusNoSnapshot: (.objectiveMissed, "status: this host's store has no snapshot yet, or a mailbox has never been backed up (run drctl backup)")
        case .statusDrillReport: (.dataError, "status: the last drill's summary (latest.json in [drill] report_dir) is not a JSON object with time and verdict")
        case .drillResultsMissing: (.noInput, "a drill's results or history file, named to render the HTML report, does not exist")
        case .drillResultsInvalid: (.dataError, "a drill's results or history file is not the JSON drctl writes (the message names the file and the field)")
        case .drillFailed: (.integrity, "drill: a check failed: a mailbox did not restore or verify from a target, or an objective was missed (the summary and the report's deviations name the target, mailbox and object)")
        case .drillUnknown: (.degraded, "drill: a check could not run (a target unreachable, a hook that did not start), and unknown is never a pass; make the target reachable and drill again")
        case .drillNoMailbox: (.noInput, "drill: the recovery point holds no mailbox to drill (no snapshot at or before it; run drctl backup)")
        case .drillPoint: (.usage, "drill: --point is neither latest nor random-within:DURATION (like random-within:7d)")
        case .drillScratch: (.ioError, "drill: the scratch folder under the state folder cannot be created, or its wipe failed")
        case .canaryUnset: (.configuration, "canary: [drill] canary names no canary mailbox; add canary = \"drctl-canary.sqlite\"")
        case .canaryWrite: (.ioError, "canary: the canary mailbox cannot be created or written (the message names the file)")
        case .reportSignature: (.integrity, "a drill report or chain head is unsigned, or no signature of it verifies with the pinned public key (the message names the file and sequence)")
        case .reportChain: (.integrity, "the drill report chain is broken: a sequence missing, repeated or out of order, a previous hash that is not the previous report's, or a file whose name does not match its content (the message names the file and sequence)")
        case .reportHead: (.integrity, "a target holds a chain head that the local chain lacks or contradicts: reports were deleted or rewritten locally (the message names the target and sequence)")
        case .reportMalformed: (.dataError, "a drill report or chain head is not a DSSE envelope of drctl's (JSON, base64, payload type or schema)")
        case .reportNotFound: (.noInput, "no drill report matches the given id (see drctl report list)")
        case .reportNoPublicKey: (.configuration, "no public key to verify with: pass --public-key FILE, or set [drill] signing_key_file")
        case .reportPublicKey: (.dataError, "a public key file does not hold a line of 64 hex digits (an Ed25519 public key)")
        case .reportTargetsUnreadable: (.degraded, "report verify --against-targets: no target's chain heads could be read, so truncation cannot be ruled out")
        case .reportNames: (.integrity, "a report's local names file gives a mailbox path whose salted hash is not the signed pseudonym, or is not JSON of salt and mailboxes: it was altered")
        case .reportConcurrent: (.temporaryFailure, "another drill recorded the same report sequence at the same time; this report was withdrawn, run the drill again")
        }
    }

    /// How the process exits when an error with this code ends it.
    package var exitStatus: ExitStatus { definition.exitStatus }
    /// One line for the docs: what happened and, where it helps, what to do.
    package var meaning: String { definition.meaning }
    /// The area of drctl the code belongs to (`repository`, `image`, …): its prefix.
    package var area: Substring { rawValue.prefix { $0 != "." } }
}

extension ErrorCode {
    /// The catalogue as the Markdown table docs/EXIT-CODES.md holds between its
    /// `error-codes` markers (`drctl debug error-codes` prints it; a test compares the two).
    package static var markdownTable: String {
        var lines = ["| code | exit status | meaning |", "|---|---:|---|"]
        for code in allCases {
            lines.append("| `\(code.rawValue)` | \(code.exitStatus.rawValue) | \(code.meaning) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension Configuration {
    /// Values used when a file leaves a key or an optional section out (docs/CONFIGURATION.md
    /// lists them; keep the two in step).
    package enum Defaults {
        package static let stateDirectory = "/var/lib/drctl"
        package static let include = ["**/*.sqlite"]
        package static let region = "us-east-1"
        package static let targetPriority = 100
        /// Requests in flight per S3 target: enough to fill a long fat pipe with 16 MiB parts.
        package static let targetConcurrency = 4
        /// 16 MiB parts: 625 parts for a 10 GiB mailbox, well under S3's 10 000.
        package static let targetPartSize: Int64 = 16 << 20
        package static let targetRequestTimeout = ConfigDuration(seconds: 120)
        package static let argon2Memory = 256 * 1024 * 1024
        package static let argon2Iterations = 3
        package static let objectives = Objectives(rpo: ConfigDuration(seconds: 24 * 3600),
                                                  rto: ConfigDuration(seconds: 4 * 3600))
        package static let retention = Retention(keepLast: 0, keepDaily: 7, keepWeekly: 5, keepMonthly: 12)
        package static let drillEvery = ConfigDuration(seconds: 7 * 86400)
        package static let drillSample = 10
        package static let logsRetain = ConfigDuration(seconds: 30 * 86400)
        package static let logsSettle = ConfigDuration(seconds: 600)
    }

    /// The configuration used when there is no file at all: everything under one data folder,
    /// two local `file://` targets, a key file that `drctl init` generates — so that a newcomer
    /// can try every command without an S3 account.
    /// - Parameter dataDirectory: absolute, normally from `ConfigurationLoader.dataDirectory`.
    package static func embeddedDefault(dataDirectory: String) -> Configuration {
        let data = Paths.normalize(dataDirectory)
        func inData(_ relative: String) -> String { Paths.resolve(relative, against: data) }
        return Configuration(
            source: .embedded(dataDirectory: data),
            store: Store(path: inData("mailstore"), include: Defaults.include),
            repository: Repository(passwordFile: nil, keyFile: inData("repository.key")),
            targets: ["local-a", "local-b"].map { name in
                let path = inData("targets/\(name)")
                return Target(name: name, location: .file(path: path), url: "file://" + path)
            },
            objectives: Defaults.objectives,
            retention: Defaults.retention,
            drill: Drill(every: Defaults.drillEvery, sample: Defaults.drillSample,
                         signingKeyFile: inData("drill-signing.key"), reportDirectory: inData("reports")),
            logs: Logs(sources: [inData("logs/*.log*")], retain: Defaults.logsRetain,
                       ip: .prefixPreserving, keyFile: inData("logs.key")),
            stateDirectory: inData("state"))
    }

    /// Advice that is not an error: the configuration works, but is weaker than intended.
    package var advisories: [String] {
        var notes: [String] = []
        if case .embedded(let data) = source {
            notes.append("no configuration file: using the embedded default (everything under \(data)); fine for trying drctl, not a disaster-recovery setup — write /etc/drctl/drctl.toml (drctl config example prints one)")
        }
        if targets.count == 1 {
            notes.append("only one target: drctl is meant to keep copies on two or more separate targets; add another [[target]]")
        } else if case .file = source, !targets.isEmpty, targets.allSatisfy({ !$0.location.isS3 }) {
            notes.append("every target is a local file:// folder: unless one is a mount from another site, a site loss takes every copy; consider an s3:// target elsewhere")
        }
        for target in targets where target.location.isS3 {
            if target.s3.allowInsecureHTTP {
                notes.append("target \(target.name) allows plain http:// (allow_insecure_http = true): meant for a test server on loopback; every run warns")
            }
            if target.s3.allowPublic {
                notes.append("target \(target.name) accepts a public bucket (allow_public = true): outsiders can count, size and date its objects")
            }
        }
        if drill.signingKeyFile == nil {
            notes.append("[drill] has no signing_key_file: drill reports will not be signed, so an auditor cannot verify them")
        }
        return notes
    }

    /// Every file this configuration names that holds a secret, with what it is for.
    package var secretFiles: [SecretFile] {
        var files: [SecretFile] = []
        if let path = repository.passwordFile {
            files.append(SecretFile(key: "repository.password_file", purpose: "repository passphrase file",
                                    path: path, createdByInit: false))
        }
        if let path = repository.keyFile {
            files.append(SecretFile(key: "repository.key_file", purpose: "repository key file",
                                    path: path, createdByInit: true))
        }
        for target in targets {
            if let path = target.credentialsFile {
                files.append(SecretFile(key: "target.\(target.name).credentials_file",
                                        purpose: "S3 credentials file of target \(target.name)",
                                        path: path, createdByInit: false))
            }
        }
        if let path = drill.signingKeyFile {
            files.append(SecretFile(key: "drill.signing_key_file", purpose: "drill report signing key file",
                                    path: path, createdByInit: true))
        }
        if let path = logs.keyFile {
            files.append(SecretFile(key: "logs.key_file", purpose: "log anonymization key file",
                                    path: path, createdByInit: true))
        }
        return files
    }
}

/// A file named by the configuration that holds a secret. Only its path and mode are ever
/// looked at here: its contents are read by the module that needs them, into locked memory.
package struct SecretFile: Sendable, Equatable {
    /// Where it is configured: `repository.key_file`, `target.eu-central.credentials_file`.
    package var key: String
    /// For messages: "repository key file".
    package var purpose: String
    package var path: String
    /// Generated keys (`drctl init` creates them when missing); passphrases and S3
    /// credentials must be provided by the operator.
    package var createdByInit: Bool

    package init(key: String, purpose: String, path: String, createdByInit: Bool) {
        self.key = key
        self.purpose = purpose
        self.path = path
        self.createdByInit = createdByInit
    }
}

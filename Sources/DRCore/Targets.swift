import DRBase
package import DRConfig
import DRCrypto
package import DRTransport
package import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Builds the object stores of the configured targets, each metered (`transfer` in reports).
package enum Targets {
    /// What the command will do with the targets, which decides the checks made before use.
    package enum Use: Sendable {
        /// Writes or manages the repository (init, backup, sync, key changes): an S3 bucket that
        /// answers anonymous requests is refused (unless `allow_public`).
        case write
        /// Reads only (restore, snapshots, check): nothing is refused for exposure, so
        /// an incident restore is never blocked by a bucket policy someone loosened.
        case read
    }

    /// The stores in the order reads should try them: ascending `priority`, then file order.
    /// A target that cannot be set up (credentials, exposure) is an `UnavailableStore`: the
    /// repository layer leaves it out and the run ends degraded, naming it and why.
    /// - Parameter logger: where a target set up with a weakness (plain http) is warned of.
    package static func stores(for configuration: Configuration, use: Use = .write,
                               logger: Logger) -> [any ObjectStore] {
        let ordered = configuration.targets.enumerated().sorted { ($0.element.priority, $0.offset) < ($1.element.priority, $1.offset) }
        var stores: [any ObjectStore] = []
        for (_, target) in ordered {
            switch target.location {
            case .file(let path):
                stores.append(MeteredStore(FileObjectStore(targetName: target.name, root: path), priority: target.priority))
            case .s3(let bucket, let prefix):
                let location = "s3://\(bucket)" + (prefix.isEmpty ? "" : "/\(prefix)")
                do throws(TransportError) {
                    let store = try s3Store(target, bucket: bucket, prefix: prefix, use: use,
                                            stateDirectory: configuration.stateDirectory, logger: logger)
                    stores.append(MeteredStore(store, priority: target.priority))
                } catch {
                    stores.append(UnavailableStore(targetName: target.name, location: location, reason: error))
                }
            }
        }
        return stores
    }

    static func s3Store(_ target: Configuration.Target, bucket: String, prefix: String,
                        use: Use, stateDirectory: String, logger: Logger) throws(TransportError) -> S3ObjectStore {
        let options = target.s3
        let endpoint = target.endpoint ?? ""
        if endpoint.lowercased().hasPrefix("http://") {
            let shown = TargetRules.masked(endpoint)
            logger.warning("target \(target.name) is reached over plain http:// (\(shown)): requests are signed but not encrypted, anyone on the path sees and can block them; allow_insecure_http is meant for a test server on loopback",
                           metadata: ["target": "\(target.name)", "endpoint": "\(shown)"])
        }
        let credentials = try self.credentials(for: target)
        var settings = S3Settings(targetName: target.name, endpoint: endpoint, bucket: bucket, prefix: prefix,
                                  region: target.region ?? Configuration.Defaults.region,
                                  addressing: options.addressing == .virtualHost ? .virtualHost : .path,
                                  caFile: options.caFile, allowInsecureHTTP: options.allowInsecureHTTP,
                                  requestTimeoutMilliseconds: Int(options.requestTimeout.seconds) * 1000,
                                  uploadLimit: options.uploadLimit, concurrency: options.concurrency,
                                  partSize: Int(options.partSize))
        if let lock = options.objectLock {
            settings.retention = S3Retention(mode: lock.mode == .compliance ? .compliance : .governance, days: lock.days)
        }
        let recorded = TargetProbes.recorded(target: target.name, stateDirectory: stateDirectory)
        let store = try S3ObjectStore(settings: settings, credentials: credentials,
                                      conditionalWritesHonoured: recorded?.conditionalWrites)
        if use == .write && !options.allowPublic {
            try refuseIfPublic(store)
        }
        return store
    }

    /// The credentials of an S3 target: `credentials_file`, or `systemd_credential` (a file
    /// that systemd's `LoadCredential=` puts in `$CREDENTIALS_DIRECTORY`, readable by the
    /// service alone). Never the environment or the command line.
    static func credentials(for target: Configuration.Target) throws(TransportError) -> SigV4Credentials {
        if let name = target.s3.systemdCredential {
            guard let directory = getenv("CREDENTIALS_DIRECTORY").map({ String(cString: $0) }), !directory.isEmpty else {
                throw TransportError(.targetCredentials, message: "target \(target.name): systemd_credential = \"\(name)\" is set, but $CREDENTIALS_DIRECTORY is not: run the command from a unit with LoadCredential=\(name):/etc/drctl/\(target.name).credentials, or use credentials_file outside systemd",
                                     context: ErrorContext(target: target.name))
            }
            return try S3CredentialsFile.load(path: directory + "/" + name, target: target.name)
        }
        guard let path = target.credentialsFile else {
            throw TransportError(.targetCredentials, message: "target \(target.name): no credentials_file or systemd_credential; drctl config check explains both",
                                 context: ErrorContext(target: target.name))
        }
        return try S3CredentialsFile.load(path: path, target: target.name)
    }

    /// Refuses a bucket that answers anonymous requests: its objects are encrypted, but their
    /// number, sizes and times still tell an outsider how many mailboxes there are, how large,
    /// and when they change. A probe that cannot be made (network) is not a refusal: the first
    /// real request will fail with the real cause.
    static func refuseIfPublic(_ store: S3ObjectStore) throws(TransportError) {
        let anonymous: [String]
        do {
            anonymous = try store.probeAnonymousAccess()
        } catch {
            return
        }
        guard anonymous.isEmpty else {
            throw TransportError(.targetPublic, message: "target \(store.targetName): bucket \(store.settings.bucket) at \(store.settings.endpoint) answers anonymous requests (\(anonymous.joined(separator: " and "))): anyone can see how many objects the repository holds, their sizes and times; remove the public access (bucket policy, ACL or public-access block), or set allow_public = true on this target if that is intended",
                                 context: ErrorContext(target: store.targetName))
        }
    }
}

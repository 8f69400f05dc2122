import DRBase
package import DRConfig
import DRRepository
import Foundation
package import DRTransport

/// What `init` learns of each S3 target before it writes anything there, reported to the
/// operator and recorded in the state folder (`targets/<name>.json`), so that later runs
/// know whether the server honours conditional writes without asking again.
package enum TargetProbes {
    package struct Result: Sendable, Codable, Equatable {
        /// "enabled", "disabled" or "unsupported".
        package var objectLock: String
        /// Whether a PUT with `If-None-Match: *` is refused when the key exists (SeaweedFS and
        /// AWS: yes; radosgw 16: in unversioned buckets only — an Object Lock bucket is versioned and
        /// it overwrites there). When false, drctl looks before it writes
        /// a write-once object (config, keys, manifests).
        package var conditionalWrites: Bool
        package var probedAt: String
    }

    /// Probes every S3 target among `stores`: a signed listing first (so a wrong secret, a
    /// missing bucket, a clock off by minutes or an untrusted certificate each get their own
    /// error before anything else), then Object Lock and conditional writes.
    /// - Throws: the first target's failure; `target.object-lock` when `object_lock` is set
    ///   but the bucket cannot retain objects (the operator asked for immutability: silently
    ///   writing deletable objects would be a lie).
    package static func probe(_ stores: [any ObjectStore], configuration: Configuration) throws(CoreError) -> [String: Result] {
        var results: [String: Result] = [:]
        for store in stores {
            guard let s3 = (store as? MeteredStore)?.underlying as? S3ObjectStore,
                  let target = configuration.targets.first(where: { $0.name == store.targetName }) else { continue }
            do {
                try s3.checkAccess()
                let lock = try s3.probeObjectLock()
                if let wanted = target.s3.objectLock, lock != .enabled {
                    let why = lock == .unsupported ? "the server does not implement Object Lock" : "the bucket was created without Object Lock (it can only be enabled when a bucket is created)"
                    throw CoreError(.targetObjectLock, message: "target \(target.name): object_lock = { mode = \"\(wanted.mode.rawValue)\", days = \(wanted.days) } is set, but \(why); create the bucket with Object Lock enabled, or remove object_lock from this target",
                                    context: ErrorContext(target: target.name))
                }
                let conditional = try s3.probeConditionalWrites()
                let result = Result(objectLock: lock.rawValue, conditionalWrites: conditional,
                                    probedAt: Timestamps.format(Date()))
                results[target.name] = result
                record(result, target: target.name, stateDirectory: configuration.stateDirectory)
            } catch let error as CoreError {
                throw error
            } catch {
                throw CoreError(error)
            }
        }
        return results
    }

    /// The recorded probe of a target, or nil (never probed on this host, or unreadable).
    package static func recorded(target: String, stateDirectory: String) -> Result? {
        guard let data = FileManager.default.contents(atPath: path(target: target, stateDirectory: stateDirectory)) else { return nil }
        return try? JSONDecoder().decode(Result.self, from: data)
    }

    /// Best effort: a record that cannot be written only costs a HEAD per write-once object.
    private static func record(_ result: Result, target: String, stateDirectory: String) {
        guard let data = try? JSONEncoder().encode(result) else { return }
        try? AtomicFile.write(Array(data), to: path(target: target, stateDirectory: stateDirectory), mode: 0o600,
                              .replace, creatingFoldersWithMode: 0o700)
    }

    private static func path(target: String, stateDirectory: String) -> String {
        stateDirectory + "/targets/" + target + ".json"
    }
}

import DRCrypto
package import DRTransport
import Foundation

/// The real S3 servers that `scripts/s3-servers start` runs on loopback (SeaweedFS and Ceph
/// radosgw), as its `servers.json` describes them. Tests that need them fail, not skip, when
/// they are not running: `scripts/test` always starts them.
package struct S3TestServer: Sendable {
    package var name: String
    package var endpoint: String
    package var region: String
    package var accessKeyID: String
    package var secretAccessKey: String
    package var bucket: String
    package var lockBucket: String?
    package var publicBucket: String?
    package var ifNoneMatch: Bool

    package static let file = ProcessInfo.processInfo.environment["DRCTL_S3_SERVERS"] ?? "/tmp/drctl-s3-servers/servers.json"

    package struct NotRunning: Error, CustomStringConvertible {
        package var description: String
    }

    package static func all() throws -> [S3TestServer] {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw NotRunning(description: "no S3 test servers: \(file) does not exist; run scripts/s3-servers start (scripts/test does)")
        }
        guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let servers = root["servers"] as? [[String: Any]] else {
            throw NotRunning(description: "\(file) is not a servers.json of scripts/s3-servers")
        }
        return servers.compactMap { server in
            guard let name = server["name"] as? String, let endpoint = server["endpoint"] as? String,
                  let key = server["access_key_id"] as? String, let secret = server["secret_access_key"] as? String,
                  let buckets = server["buckets"] as? [String: Any], let plain = buckets["plain"] as? String else { return nil }
            return S3TestServer(name: name, endpoint: endpoint, region: server["region"] as? String ?? "us-east-1",
                                accessKeyID: key, secretAccessKey: secret, bucket: plain,
                                lockBucket: buckets["lock"] as? String, publicBucket: buckets["public"] as? String,
                                ifNoneMatch: server["if_none_match"] as? Bool ?? false)
        }
    }

    /// Server names for parameterized tests (read once; an empty list makes the test fail).
    package static let names: [String] = {
        let found = ((try? all()) ?? []).map(\.name)
        // Two names that fail with the reason, rather than a parameterized test with no case
        // (which would pass by running nothing).
        return found.isEmpty ? ["seaweedfs", "radosgw"] : found
    }()

    package static func named(_ name: String) throws -> S3TestServer {
        guard let server = try all().first(where: { $0.name == name }) else {
            throw NotRunning(description: "no server \(name) in \(file); run scripts/s3-servers start (scripts/test does)")
        }
        return server
    }

    package func credentials(secret: String? = nil) throws -> SigV4Credentials {
        let bytes = Array((secret ?? secretAccessKey).utf8)
        var key = try SecureBytes(count: bytes.count)
        key.withUnsafeMutableBytes { $0.copyBytes(from: bytes) }
        return SigV4Credentials(accessKeyID: accessKeyID, secretAccessKey: key)
    }

    /// A store on a fresh prefix of this server's plain bucket.
    package func store(prefix: String = "t-\(UUID().uuidString.lowercased())", bucket: String? = nil, secret: String? = nil,
                       endpoint: String? = nil, configure: (inout S3Settings) -> Void = { _ in }) throws -> S3ObjectStore {
        var settings = S3Settings(targetName: "test-\(name)", endpoint: endpoint ?? self.endpoint, bucket: bucket ?? self.bucket,
                                  prefix: prefix, region: region, allowInsecureHTTP: true,
                                  retry: RetryPolicy(maxAttempts: 3, baseMilliseconds: 50, capMilliseconds: 500))
        configure(&settings)
        return try S3ObjectStore(settings: settings, credentials: try credentials(secret: secret))
    }

    /// The text of a credentials file for this server (the caller writes it with mode 0600).
    package func credentialsFileText(secret: String? = nil) -> String {
        "# test credentials, made at run time\naccess_key_id = \"\(accessKeyID)\"\nsecret_access_key = \"\(secret ?? secretAccessKey)\"\n"
    }
}

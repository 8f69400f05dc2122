import DRBase
import DRCrypto
import DRTestSupport
@testable import DRTransport
import Foundation
import Testing

/// The S3 object store against the real servers of `scripts/s3-servers` (SeaweedFS and Ceph
/// radosgw on loopback): every operation drctl uses, and the errors an operator meets.
@Suite("S3 object store against real servers", .serialized)
struct S3ObjectStoreTests {
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }

    @Test("put, get, ranged get, exists, list with pages, delete", arguments: S3TestServer.names)
    func basics(server: String) throws {
        let s3 = try S3TestServer.named(server)
        let store = try s3.store { $0.listPageSize = 3 }
        let payloads = (0..<7).map { Self.bytes(1000 + $0 * 333, seed: UInt64($0 + 1)) }
        for (index, payload) in payloads.enumerated() {
            try store.put("data/\(index % 2)/obj-\(index)", payload, ifAbsent: false)
        }
        try store.put("config", Array("cfg".utf8), ifAbsent: true)
        #expect(try store.get("data/0/obj-2", maxBytes: 1 << 20) == payloads[2])
        #expect(try store.get("data/1/obj-3", offset: 100, length: 50) == Array(payloads[3][100..<150]))
        // A range past the end is a short read, as a file's would be.
        #expect(try store.get("data/1/obj-3", offset: Int64(payloads[3].count - 10), length: 50) == Array(payloads[3].suffix(10)))
        #expect(try store.exists("config"))
        // Header values come without their line ending (CR LF is one Swift Character): sizes
        // and ETags are compared, not silently skipped.
        let head = try #require(try store.head(store.client.location.key("data/0/obj-2"), purpose: "test"))
        #expect(head.header("content-length") == String(payloads[2].count))
        #expect(S3ObjectStore.unquoted(head.header("etag")) == MD5.hexDigest(payloads[2]))
        #expect(try !store.exists("nothing-here"))
        // 8 objects over pages of 3: the continuation tokens are followed.
        let sizes = try store.listSizes(prefix: "")
        #expect(sizes.count == 8)
        #expect(sizes["data/1/obj-5"] == Int64(payloads[5].count))
        #expect(try store.list(prefix: "data/0/") == ["data/0/obj-0", "data/0/obj-2", "data/0/obj-4", "data/0/obj-6"])
        do {
            _ = try store.get("missing", maxBytes: 100)
            Issue.record("a missing object was read")
        } catch {
            #expect(error.code == .transportNotFound)
        }
        // A few bytes of a missing object: the 404's error document is longer than the range
        // (radosgw's is); it must still read as not found, not as an object too large.
        do {
            _ = try store.get("missing", offset: 8, length: 16)
            Issue.record("a range of a missing object was read")
        } catch {
            #expect(error.code == .transportNotFound, "\(error)")
        }
        do {
            _ = try store.get("data/0/obj-6", maxBytes: 100)
            Issue.record("an object larger than its bound was read whole")
        } catch {
            #expect(error.code == .transportTooLarge)
        }
        try store.delete("data/0/obj-0")
        try store.delete("data/0/obj-0") // idempotent
        #expect(try !store.exists("data/0/obj-0"))
        for name in try store.list(prefix: "") { try store.delete(name) }
    }

    @Test("write-once objects are never replaced, whether or not the server honours If-None-Match",
          arguments: S3TestServer.names)
    func writeOnce(server: String) throws {
        let s3 = try S3TestServer.named(server)
        let probe = try s3.store()
        let honoured = try probe.probeConditionalWrites()
        #expect(honoured == s3.ifNoneMatch, "the probe says \(honoured), scripts/s3-servers measured \(s3.ifNoneMatch)")
        for recorded in [nil, honoured] as [Bool?] {
            let store = try S3ObjectStore(settings: probe.settings, credentials: try s3.credentials(),
                                          conditionalWritesHonoured: recorded)
            let name = "keys/k-\(UUID().uuidString.lowercased())"
            try store.put(name, Array("first".utf8), ifAbsent: true)
            do {
                try store.put(name, Array("second".utf8), ifAbsent: true)
                Issue.record("\(server): a write-once object was replaced (recorded: \(String(describing: recorded)))")
            } catch {
                #expect(error.code == .transportExists)
            }
            #expect(try store.get(name, maxBytes: 100) == Array("first".utf8))
            try store.delete(name)
        }
    }

    @Test("a large object goes up in parallel parts and comes back whole; an independent reader agrees",
          arguments: S3TestServer.names)
    func multipart(server: String) throws {
        let s3 = try S3TestServer.named(server)
        let store = try s3.store { $0.partSize = 5 << 20; $0.concurrency = 3 }
        let payload = Self.bytes(13 << 20 | 12345, seed: 99)
        try store.put("data/ab/big", payload, ifAbsent: false)
        #expect(try store.listSizes(prefix: "data/")["data/ab/big"] == Int64(payload.count))
        #expect(try store.get("data/ab/big", maxBytes: 1 << 30) == payload)
        #expect(try store.get("data/ab/big", offset: Int64(5 << 20) - 7, length: 14) == Array(payload[((5 << 20) - 7)..<((5 << 20) + 7)]))
        // No upload is left unfinished.
        #expect(try store.incompleteWrites().isEmpty)
        // boto3 reads the same bytes (the SHA-256 of what drctl sent).
        let independent = try Boto3.run("print(hashlib.sha256(c.get_object(Bucket=args[0], Key=args[1])['Body'].read()).hexdigest())",
                                         server: s3, arguments: [s3.bucket, "\(store.settings.prefix)/data/ab/big"])
        #expect(independent.trimmingCharacters(in: .whitespacesAndNewlines) == SHA256.hexDigest(payload))
        try store.delete("data/ab/big")
    }

    @Test("a ranged read into a caller's buffer: the bytes asked for, short at the object's end, a miss is not-found",
          arguments: S3TestServer.names)
    func readIntoBuffer(server: String) throws {
        let s3 = try S3TestServer.named(server)
        let store = try s3.store()
        let payload = Self.bytes(5 << 20 | 4321, seed: 7)
        try store.put("data/cd/window", payload, ifAbsent: false)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 16)
        defer { buffer.deallocate() }
        func read(at offset: Int, count: Int) throws -> [UInt8] {
            buffer.initializeMemory(as: UInt8.self, repeating: 0xEE)
            let window = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
            let got = try store.read("data/cd/window", offset: Int64(offset), into: window)
            return Array(window[0..<got])
        }
        // The rest of the buffer is left as it was (0xEE): only the body is written into it.
        #expect(try read(at: 1001, count: 4 << 20) == Array(payload[1001..<(1001 + (4 << 20))]))
        // Past the object's end: the bytes up to the end, nothing after.
        let tail = payload.count - (1 << 20) - 17
        #expect(try read(at: tail, count: 4 << 20) == Array(payload[tail...]))
        #expect(try read(at: 5, count: 1000) == Array(payload[5..<1005]))
        #expect(try read(at: payload.count + 10, count: 2 << 20).isEmpty)
        do {
            _ = try store.read("data/cd/absent", offset: 0, into: buffer)
            Issue.record("a missing object read as present")
        } catch {
            #expect(error.code == .transportNotFound, "\(error.message)")
        }
        try store.delete("data/cd/window")
    }

    @Test("a wrong secret names the target and the likely cause", arguments: S3TestServer.names)
    func wrongSecret(server: String) throws {
        let s3 = try S3TestServer.named(server)
        let store = try s3.store(secret: String(s3.secretAccessKey.reversed()))
        do {
            try store.checkAccess()
            Issue.record("a wrong secret was accepted")
        } catch {
            #expect(error.code == .transportAuth)
            #expect(error.message.contains("test-\(server)"))
            #expect(error.message.lowercased().contains("secret"), "\(error.message)")
            #expect(!error.message.contains(s3.secretAccessKey), "the message holds the secret")
        }
    }

    @Test("a missing bucket is named", arguments: S3TestServer.names)
    func missingBucket(server: String) throws {
        let s3 = try S3TestServer.named(server)
        let store = try s3.store(bucket: "drctl-no-such-bucket-\(Int.random(in: 1000...9999))")
        do {
            try store.checkAccess()
            Issue.record("a missing bucket was accepted")
        } catch {
            #expect(error.code == .transportNoBucket, "\(error.code): \(error.message)")
            #expect(error.message.contains("drctl-no-such-bucket"))
        }
    }

    @Test("anonymous access: none on the private bucket, list or read on the public one", arguments: S3TestServer.names)
    func anonymousProbe(server: String) throws {
        let s3 = try S3TestServer.named(server)
        #expect(try s3.store().probeAnonymousAccess().isEmpty)
        let publicBucket = try #require(s3.publicBucket, "scripts/s3-servers made no public bucket on \(server)")
        let open = try s3.store(bucket: publicBucket)
        #expect(!(try open.probeAnonymousAccess()).isEmpty)
    }

    @Test("Object Lock: probed, objects retained, and a retained object cannot be deleted through drctl",
          arguments: S3TestServer.names)
    func objectLock(server: String) throws {
        let s3 = try S3TestServer.named(server)
        #expect(try s3.store().probeObjectLock() != .enabled)
        let lockBucket = try #require(s3.lockBucket, "scripts/s3-servers made no Object Lock bucket on \(server)")
        let store = try s3.store(bucket: lockBucket) { $0.retention = S3Retention(mode: .governance, days: 1) }
        #expect(try store.probeObjectLock() == .enabled)
        try store.put("keys/locked", Array("retained".utf8), ifAbsent: true)
        let head = try #require(try store.head(store.client.location.key("keys/locked"), purpose: "test"))
        #expect(head.header("x-amz-object-lock-mode") == "GOVERNANCE")
        do {
            try store.delete("keys/locked")
            Issue.record("a retained object was deleted")
        } catch {
            #expect(error.code == .transportLocked)
            #expect(error.message.contains("keys/locked"))
        }
        #expect(try store.exists("keys/locked"))
    }

    @Test("a refused connection is tried 5 times, not the whole retry budget")
    func refusedConnection() throws {
        // Port 9 (discard) on loopback: nothing listens there on a test machine.
        var settings = S3Settings(targetName: "nowhere", endpoint: "http://127.0.0.1:9", bucket: "b", prefix: "p",
                                  region: "us-east-1", allowInsecureHTTP: true,
                                  retry: RetryPolicy(maxAttempts: 8, baseMilliseconds: 1, capMilliseconds: 2))
        settings.concurrency = 1
        var key = try SecureBytes(count: 8)
        key.withUnsafeMutableBytes { $0.copyBytes(from: Array("secret00".utf8)) }
        let store = try S3ObjectStore(settings: settings, credentials: SigV4Credentials(accessKeyID: "AKID", secretAccessKey: key))
        do {
            _ = try store.exists("config")
            Issue.record("a request to a closed port succeeded")
        } catch {
            #expect(error.code == .transportNetwork)
            #expect(error.message.contains("after 5 attempts"), "\(error.message)")
        }
        #expect(store.faults.requests == 5)
    }

    @Test("ETags of SSE-KMS and SSE-C objects are not MD5s and are not compared")
    func encryptedETags() {
        func response(_ headers: [(String, String)]) -> HTTPResponse {
            HTTPResponse(status: 200, headers: headers.map { (name: $0.0, value: $0.1) }, body: [])
        }
        #expect(S3ObjectStore.etagIsNotMD5(response([("x-amz-server-side-encryption", "aws:kms")])))
        #expect(S3ObjectStore.etagIsNotMD5(response([("x-amz-server-side-encryption", "aws:kms:dsse")])))
        #expect(S3ObjectStore.etagIsNotMD5(response([("x-amz-server-side-encryption-customer-algorithm", "AES256")])))
        #expect(!S3ObjectStore.etagIsNotMD5(response([("x-amz-server-side-encryption", "AES256")])))
        #expect(!S3ObjectStore.etagIsNotMD5(response([])))
    }

    @Test("an untrusted certificate is refused; trusting it with ca_file works")
    func untrustedCertificate() throws {
        let s3 = try S3TestServer.named("seaweedfs")
        let proxy = try FaultProxy(upstream: s3.endpoint, tls: true)
        defer { proxy.stop() }
        let refused = try s3.store(endpoint: proxy.endpoint) { $0.allowInsecureHTTP = false }
        do {
            try refused.checkAccess()
            Issue.record("a self-signed certificate was trusted")
        } catch {
            #expect(error.code == .transportTLS, "\(error.code): \(error.message)")
        }
        let trusted = try s3.store(endpoint: proxy.endpoint) { $0.allowInsecureHTTP = false; $0.caFile = proxy.certificate }
        try trusted.checkAccess()
    }
}

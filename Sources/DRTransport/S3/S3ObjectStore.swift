import DRBase
import DRCrypto

/// A target that is an S3 bucket (or a prefix in one), over libcurl with SigV4.
///
/// Objects are write-once (drctl never replaces one): `put` sends `If-None-Match: *`, which
/// AWS and SeaweedFS honour; radosgw ignores it, so for the few objects whose write-once rule
/// matters (config, keys, snapshot manifests) a HEAD comes first unless the target is known
/// to honour it. Packs have random 256-bit names and need no check. Every upload carries
/// `Content-MD5` and its signed SHA-256; the returned ETag is compared with the MD5 sent.
package final class S3ObjectStore: ObjectStore {
    package let targetName: String
    package let settings: S3Settings
    let client: S3Client
    /// Whether the server refuses a PUT with `If-None-Match: *` on an existing key; nil until
    /// probed (`probeConditionalWrites`), or set from what `init` recorded.
    private let conditionalWritesHonoured: Bool?

    package var location: String { settings.location }
    package var uploadConcurrency: Int { settings.concurrency }

    package init(settings: S3Settings, credentials: SigV4Credentials,
                 conditionalWritesHonoured: Bool? = nil) throws(TransportError) {
        guard let location = S3Location(endpoint: settings.endpoint, bucket: settings.bucket, prefix: settings.prefix,
                                        addressing: settings.addressing) else {
            throw TransportError(.transportProtocol, message: "target \(settings.targetName): endpoint \(settings.endpoint) is not an http(s):// URL with a host", context: ErrorContext(target: settings.targetName))
        }
        targetName = settings.targetName
        self.settings = settings
        client = S3Client(settings: settings, location: location, credentials: credentials)
        self.conditionalWritesHonoured = conditionalWritesHonoured
    }

    /// Retries made and faults met so far, for the run's summary.
    package var faults: S3Faults { client.faults }

    // MARK: - ObjectStore

    package func put(_ name: String, _ bytes: [UInt8], ifAbsent: Bool) throws(TransportError) {
        let key = client.location.key(name)
        if ifAbsent && conditionalWritesHonoured != true && !name.hasPrefix("data/") {
            if try exists(name) { throw exists(key: key) }
        }
        // A quarter's margin over the part size: a full pack (16 MiB and a little header) goes
        // up in one request, not as a 16 MiB part and a tiny second one.
        if bytes.count > settings.partSize + settings.partSize / 4 {
            try putMultipart(key, bytes)
            return
        }
        let md5 = MD5.hash(bytes)
        var headers = [(name: "content-md5", value: Base64.encode(md5))] + retentionHeaders(retained: !name.hasPrefix("locks/"))
        if ifAbsent { headers.append(("if-none-match", "*")) }
        let response = try client.send(.init(method: "PUT", key: key, headers: headers, body: bytes[...],
                                             purpose: "upload of \(name)"))
        switch response.status {
        case 200:
            try checkETag(response, expected: Hex.encode(md5), key: key)
        case 412 where ifAbsent:
            // Either the object existed, or an earlier attempt of this very request stored it and
            // its answer was lost: the same bytes are there then, which is success.
            if try sameObject(key, md5: Hex.encode(md5), size: bytes.count) { return }
            throw exists(key: key)
        default:
            throw failure(response, key: key, doing: "upload of \(name)")
        }
    }

    package func get(_ name: String, maxBytes: Int64) throws(TransportError) -> [UInt8] {
        let key = client.location.key(name)
        let limit = Int(min(maxBytes, Int64(Int.max)))
        let tooLarge = TransportError(.transportTooLarge, message: "target \(targetName): \(name) at \(location) holds more than an object of its kind ever does (\(maxBytes) bytes): it was planted or damaged; remove it, then run drctl check", context: ErrorContext(target: targetName, object: name))
        let response: HTTPResponse
        do {
            // Room for an error document too (a 404's body may be longer than a small limit).
            response = try client.send(.init(method: "GET", key: key, maxResponseBytes: max(limit, 64 << 10),
                                             purpose: "download of \(name)"))
        } catch where error.code == .transportTooLarge {
            throw tooLarge
        }
        guard response.status == 200 else { throw failure(response, key: key, doing: "download of \(name)") }
        guard response.body.count <= limit else { throw tooLarge }
        if let length = response.header("content-length").flatMap(Int.init), length != response.body.count {
            throw TransportError(.transportShortRead, message: "target \(targetName): \(name) came back with \(response.body.count) of its \(length) bytes", context: ErrorContext(target: targetName, object: name))
        }
        return response.body
    }

    package func get(_ name: String, offset: Int64, length: Int) throws(TransportError) -> [UInt8] {
        guard length > 0, offset >= 0 else { return [] }
        let key = client.location.key(name)
        let last = offset + Int64(length) - 1
        let response = try client.send(.init(method: "GET", key: key, headers: [("range", "bytes=\(offset)-\(last)")],
                                             maxResponseBytes: length, purpose: "ranged download of \(name)"))
        switch response.status {
        case 206:
            return response.body
        case 200:
            // A server that ignored the range sent the whole object, cut at our limit.
            let start = Int(min(offset, Int64(response.body.count)))
            return Array(response.body[start..<min(response.body.count, start + length)])
        case 416:
            return [] // The range starts past the end: a short read, as a file's would be.
        default:
            throw failure(response, key: key, doing: "ranged download of \(name)")
        }
    }

    /// A ranged read straight into the caller's buffer: no response array (a fresh mapping
    /// faulted in per 8 MiB request) and no copy out of it.
    ///
    /// One request per read, not several parts at once: on SeaweedFS, cutting a restore's
    /// 8 MiB windows into 2 MiB parts fetched in parallel doubled the server's CPU (each request
    /// passes its gateway, filer and volume server) and gained no wall time on loopback, where
    /// the restore's workers already keep the server busy (docs/PROFILES.md, branch s3perf).
    package func read(_ name: String, offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        guard buffer.count > 0, offset >= 0 else { return 0 }
        let key = client.location.key(name)
        let last = offset + Int64(buffer.count) - 1
        let response = try client.send(.init(method: "GET", key: key, headers: [("range", "bytes=\(offset)-\(last)")],
                                             maxResponseBytes: buffer.count, sink: ResponseSink(buffer, offset: offset),
                                             purpose: "ranged download of \(name)"))
        switch response.status {
        case 200, 206:
            // 200: a server that ignored the range sent the whole object; the sink kept the
            // part asked for.
            return response.sunk
        case 416:
            return 0 // The range starts past the end: a short read, as a file's would be.
        default:
            throw failure(response, key: key, doing: "ranged download of \(name)")
        }
    }

    package func exists(_ name: String) throws(TransportError) -> Bool {
        try head(client.location.key(name), purpose: "look-up of \(name)") != nil
    }

    package func list(prefix: String) throws(TransportError) -> [String] {
        try listSizes(prefix: prefix).keys.sorted()
    }

    package func listSizes(prefix: String) throws(TransportError) -> [String: Int64] {
        var found: [String: Int64] = [:]
        for entry in try listObjects(keyPrefix: client.location.key(prefix), purpose: "listing of \(prefix.isEmpty ? "the repository" : prefix)") {
            if let name = client.location.name(ofKey: entry.key) { found[name] = entry.size }
        }
        return found
    }

    package func delete(_ name: String) throws(TransportError) {
        let key = client.location.key(name)
        if settings.retention != nil, let until = try retainedUntil(key), until > WallClock.secondsSince1970() {
            throw TransportError(.transportLocked, message: "target \(targetName): \(name) is under Object Lock retention until \(S3Time.format(until)); it cannot be deleted before then (drctl never shortens a retention)", context: ErrorContext(target: targetName, object: name))
        }
        let response = try client.send(.init(method: "DELETE", key: key, purpose: "deletion of \(name)"))
        guard [200, 204, 404].contains(response.status) else {
            throw failure(response, key: key, doing: "deletion of \(name)")
        }
    }

    package func incompleteWrites() throws(TransportError) -> [IncompleteWrite] {
        var writes: [IncompleteWrite] = []
        var keyMarker: String?
        var uploadMarker: String?
        let now = WallClock.secondsSince1970()
        repeat {
            var query: [(name: String, value: String)] = [("uploads", ""), ("prefix", client.location.prefix.isEmpty ? "" : client.location.prefix + "/")]
            if let keyMarker { query.append(("key-marker", keyMarker)) }
            if let uploadMarker { query.append(("upload-id-marker", uploadMarker)) }
            let response = try client.send(.init(method: "GET", key: nil, query: query, maxResponseBytes: 16 << 20,
                                                 purpose: "listing of unfinished multipart uploads"))
            guard response.status == 200 else { throw failure(response, key: nil, doing: "listing of unfinished multipart uploads") }
            let root = try xml(response, doing: "listing of unfinished multipart uploads")
            for upload in root.all("Upload") {
                guard let key = upload.text(of: "Key"), let id = upload.text(of: "UploadId"),
                      let name = client.location.name(ofKey: key) else { continue }
                let started = upload.text(of: "Initiated").flatMap(S3Time.parse) ?? now
                writes.append(IncompleteWrite(name: Self.incompleteName(name, uploadID: id), size: 0,
                                              ageSeconds: max(0, now - started)))
            }
            let truncated = root.text(of: "IsTruncated") == "true"
            keyMarker = truncated ? root.text(of: "NextKeyMarker") : nil
            uploadMarker = truncated ? root.text(of: "NextUploadIdMarker") : nil
        } while keyMarker != nil
        return writes
    }

    package func removeIncompleteWrite(_ write: IncompleteWrite) throws(TransportError) {
        guard let (name, id) = Self.parseIncompleteName(write.name) else { return }
        try abortUpload(client.location.key(name), uploadID: id)
    }

    // MARK: - Multipart uploads

    /// Uploads `bytes` in parts of `partSize`, up to `concurrency` parts at once, and completes
    /// the upload; on failure the upload is aborted (or, if even that fails, left for the next
    /// run's `incompleteWrites` sweep).
    private func putMultipart(_ key: String, _ bytes: [UInt8]) throws(TransportError) {
        let created = try client.send(.init(method: "POST", key: key, query: [("uploads", "")],
                                            headers: retentionHeaders(retained: true), purpose: "start of the multipart upload of \(key)"))
        guard created.status == 200 else { throw failure(created, key: key, doing: "start of a multipart upload") }
        guard let uploadID = try xml(created, doing: "start of a multipart upload").text(of: "UploadId"), !uploadID.isEmpty else {
            throw protocolError("the answer to CreateMultipartUpload of \(key) has no UploadId", key: key)
        }
        do throws(TransportError) {
            let partSize = settings.partSize
            let ranges = stride(from: 0, to: bytes.count, by: partSize).map { $0..<min(bytes.count, $0 + partSize) }
            let outcome = WorkerPool(parallelism: settings.concurrency).run(
                Array(ranges.enumerated()),
                isFatal: { (_: TransportError) in true }
            ) { (item: (offset: Int, element: Range<Int>), _) throws(TransportError) -> [UInt8] in
                try self.uploadPart(key, uploadID: uploadID, number: item.offset + 1, bytes: bytes[item.element])
            }
            if let fatal = outcome.fatal { throw fatal }
            var digests: [[UInt8]] = []
            for result in outcome.results {
                switch result {
                case .success(let digest)?: digests.append(digest)
                case .failure(let error)?: throw error
                case nil: throw protocolError("a part of \(key) was not uploaded", key: key)
                }
            }
            var document = "<CompleteMultipartUpload>"
            for (index, digest) in digests.enumerated() {
                document += "<Part><PartNumber>\(index + 1)</PartNumber><ETag>\"\(Hex.encode(digest))\"</ETag></Part>"
            }
            document += "</CompleteMultipartUpload>"
            let completed = try client.send(.init(method: "POST", key: key, query: [("uploadId", uploadID)],
                                                  body: ArraySlice(document.utf8), purpose: "completion of the multipart upload of \(key)"))
            // S3 may answer 200 and still fail, with an <Error> document as the body.
            guard completed.status == 200, S3ErrorBody(completed.body) == nil else {
                if completed.status == 404, try sameObject(key, md5: nil, size: bytes.count) { return }
                throw failure(completed, key: key, doing: "completion of a multipart upload")
            }
            // The ETag of a multipart object is the MD5 of the parts' MD5s, "-" and their count.
            let expected = MD5.hexDigest(digests.flatMap { $0 }) + "-\(digests.count)"
            let etag = (try? xml(completed, doing: "completion"))?.text(of: "ETag") ?? completed.header("etag")
            if !Self.etagIsNotMD5(completed) { try compareETag(etag, expected: expected, key: key) }
        } catch {
            try? abortUpload(key, uploadID: uploadID)
            throw error
        }
    }

    /// Uploads one part; returns its MD5 (its ETag, checked).
    private func uploadPart(_ key: String, uploadID: String, number: Int, bytes: ArraySlice<UInt8>) throws(TransportError) -> [UInt8] {
        let md5 = MD5.hash(bytes)
        let response = try client.send(.init(method: "PUT", key: key, query: [("partNumber", "\(number)"), ("uploadId", uploadID)],
                                             headers: [("content-md5", Base64.encode(md5))], body: bytes,
                                             purpose: "upload of part \(number) of \(key)"))
        guard response.status == 200 else { throw failure(response, key: key, doing: "upload of part \(number)") }
        try checkETag(response, expected: Hex.encode(md5), key: key)
        return md5
    }

    private func abortUpload(_ key: String, uploadID: String) throws(TransportError) {
        let response = try client.send(.init(method: "DELETE", key: key, query: [("uploadId", uploadID)],
                                             purpose: "abort of the multipart upload of \(key)"))
        guard [200, 204, 404].contains(response.status) else {
            throw failure(response, key: key, doing: "abort of a multipart upload")
        }
    }

    static func incompleteName(_ name: String, uploadID: String) -> String { "\(name)?uploadId=\(uploadID)" }

    static func parseIncompleteName(_ text: String) -> (String, String)? {
        // Repository object names never hold "?".
        guard let mark = text.firstIndex(of: "?"), text[mark...].hasPrefix("?uploadId=") else { return nil }
        return (String(text[..<mark]), String(text[mark...].dropFirst("?uploadId=".count)))
    }

    // MARK: - Listing

    struct ListedObject: Sendable {
        var key: String
        var size: Int64
    }

    /// ListObjectsV2 over every page.
    func listObjects(keyPrefix: String, purpose: String) throws(TransportError) -> [ListedObject] {
        var objects: [ListedObject] = []
        var token: String?
        repeat {
            var query: [(name: String, value: String)] = [("list-type", "2"), ("prefix", keyPrefix), ("max-keys", "\(settings.listPageSize)")]
            if let token { query.append(("continuation-token", token)) }
            let response = try client.send(.init(method: "GET", key: nil, query: query, maxResponseBytes: 32 << 20,
                                                 purpose: purpose))
            guard response.status == 200 else { throw failure(response, key: nil, doing: purpose) }
            let root = try xml(response, doing: purpose)
            for entry in root.all("Contents") {
                guard let key = entry.text(of: "Key"), let size = entry.text(of: "Size").flatMap(Int64.init) else {
                    throw protocolError("a ListObjectsV2 entry lacks its Key or Size", key: nil)
                }
                objects.append(ListedObject(key: key, size: size))
            }
            let truncated = root.text(of: "IsTruncated") == "true"
            token = truncated ? root.text(of: "NextContinuationToken") : nil
            if truncated && (token ?? "").isEmpty {
                throw protocolError("a truncated listing has no NextContinuationToken", key: nil)
            }
        } while token != nil
        return objects
    }

    // MARK: - Helpers

    /// HEAD: the response headers, or nil when the object does not exist.
    func head(_ key: String, purpose: String) throws(TransportError) -> HTTPResponse? {
        let response = try client.send(.init(method: "HEAD", key: key, purpose: purpose))
        switch response.status {
        case 200: return response
        case 404: return nil
        default: throw failure(response, key: key, doing: purpose)
        }
    }

    /// Whether `key` holds an object of `size` bytes (and, with `md5`, that ETag).
    private func sameObject(_ key: String, md5: String?, size: Int) throws(TransportError) -> Bool {
        guard let response = try head(key, purpose: "check of \(key)") else { return false }
        guard response.header("content-length").flatMap(Int.init) == size else { return false }
        guard let md5 else { return true }
        return Self.unquoted(response.header("etag")) == md5
    }

    private func retainedUntil(_ key: String) throws(TransportError) -> Int64? {
        guard let response = try head(key, purpose: "retention check of \(key)") else { return nil }
        return response.header("x-amz-object-lock-retain-until-date").flatMap(S3Time.parse)
    }

    /// Object Lock headers for a new object. `locks/` holds the records of runs and leases,
    /// which must be deleted when they end, so it never gets a retention (`retained` false);
    /// they are small, so never uploaded in parts.
    private func retentionHeaders(retained: Bool) -> [(name: String, value: String)] {
        guard let retention = settings.retention, retained else { return [] }
        let until = WallClock.secondsSince1970() + Int64(retention.days) * 86_400
        return [("x-amz-object-lock-mode", retention.mode.rawValue),
                ("x-amz-object-lock-retain-until-date", S3Time.format(until))]
    }

    private func checkETag(_ response: HTTPResponse, expected: String, key: String) throws(TransportError) {
        // With SSE-KMS or SSE-C, AWS returns an ETag of 32 hex digits that is not the MD5 of
        // the body: comparing it would refuse every upload. The signed payload hash and the
        // Content-MD5 the server checked still hold; the size is checked on every read.
        guard !Self.etagIsNotMD5(response) else { return }
        try compareETag(response.header("etag"), expected: expected, key: key)
    }

    static func etagIsNotMD5(_ response: HTTPResponse) -> Bool {
        let encryption = response.header("x-amz-server-side-encryption")?.lowercased() ?? ""
        return encryption.hasPrefix("aws:kms") || response.header("x-amz-server-side-encryption-customer-algorithm") != nil
    }

    /// ETags that look like an MD5 (or a multipart MD5) must match; others (servers that
    /// encrypt and return an opaque ETag) are not MD5s and are not compared.
    private func compareETag(_ etag: String?, expected: String, key: String) throws(TransportError) {
        guard let value = Self.unquoted(etag) else { return }
        let looksLikeMD5 = value.count >= 32 && value.prefix(32).allSatisfy(\.isHexDigit)
        guard looksLikeMD5 else { return }
        if value.lowercased() != expected {
            throw TransportError(.transportIntegrity, message: "target \(targetName): the server stored other bytes than drctl sent for \(key) (ETag \(value), expected \(expected)); retry the backup, and if it happens again check the endpoint (a proxy rewriting bodies?)", context: ErrorContext(target: targetName, object: key))
        }
    }

    static func unquoted(_ etag: String?) -> String? {
        guard var value = etag else { return nil }
        if value.hasPrefix("W/") { value.removeFirst(2) }
        if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
        return value
    }

    private func xml(_ response: HTTPResponse, doing: String) throws(TransportError) -> S3XMLElement {
        do {
            return try S3XML.parse(response.body)
        } catch {
            throw protocolError("the answer to the \(doing) is not valid XML (\(error.reason) at byte \(error.offset))", key: nil)
        }
    }

    private func exists(key: String) -> TransportError {
        TransportError(.transportExists, message: "target \(targetName): \(key) exists already at \(location); drctl never replaces an object", context: ErrorContext(target: targetName, object: key))
    }

    private func protocolError(_ text: String, key: String?) -> TransportError {
        TransportError(.transportProtocol, message: "target \(targetName) (\(settings.endpoint)): \(text); is the endpoint an S3 service?", context: ErrorContext(target: targetName, object: key))
    }

    /// The error of a response that is not what the request expected, named by what S3 said.
    func failure(_ response: HTTPResponse, key: String?, doing: String) -> TransportError {
        S3ErrorMapping.error(response, target: targetName, endpoint: settings.endpoint, bucket: settings.bucket,
                             key: key, doing: doing)
    }
}

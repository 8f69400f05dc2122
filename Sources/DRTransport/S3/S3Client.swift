import DRBase
import DRCrypto
import Dispatch
import Synchronization

/// What a target's requests met: retries made and faults seen, for the run's summary.
package struct S3Faults: Sendable, Codable, Equatable {
    package var requests = 0
    package var retries = 0
    /// Responses that asked to be retried, by status (`503`, `500`, `429`, …).
    package var statuses: [String: Int] = [:]
    /// Requests that got no response: connection refused or reset, timeouts, truncated bodies.
    package var networkErrors = 0
    package init() {}

    package var isEmpty: Bool { retries == 0 && statuses.isEmpty && networkErrors == 0 }

    /// "3 retries of 412 requests: 2 × 503, 1 connection broken or timed out", for summaries.
    package var summary: String {
        var met = statuses.sorted { $0.key < $1.key }.map { "\($0.value) × \($0.key)" }
        if networkErrors > 0 { met.append("\(networkErrors) connection\(networkErrors == 1 ? "" : "s") refused, broken or timed out") }
        return "\(retries) retr\(retries == 1 ? "y" : "ies") in \(requests) requests" + (met.isEmpty ? "" : ": " + met.joined(separator: ", "))
    }
}

/// A `CurlConnection` handed between threads through the idle pool: only one thread uses it at
/// a time (taken out of the pool under its lock, put back after the request).
private struct PooledConnection: @unchecked Sendable {
    let connection: CurlConnection
}

/// Signs, sends and retries requests to one S3 target.
///
/// Connections are reused: an idle pool of curl handles, each keeping its connection alive,
/// at most `concurrency` requests in flight (a semaphore; every request of a multipart upload
/// counts). Transient failures are retried per `RetryPolicy`; everything else is returned for
/// the caller to interpret.
final class S3Client: Sendable {
    let settings: S3Settings
    let location: S3Location
    private let signer: SigV4Signer
    private let security: TransportSecurity
    private let pacer: UploadPacer?
    private let idle = Mutex<[PooledConnection]>([])
    private let slots: DispatchSemaphore
    private let faultCounts = Mutex(S3Faults())
    /// The signing key of the day requests are being signed for, derived once per day.
    private let dayKey = Mutex<SigningDayKey?>(nil)

    init(settings: S3Settings, location: S3Location, credentials: SigV4Credentials) {
        self.settings = settings
        self.location = location
        signer = SigV4Signer(credentials: credentials, region: settings.region)
        security = TransportSecurity(caFile: settings.caFile, allowInsecureHTTP: settings.allowInsecureHTTP,
                                     requestTimeoutMilliseconds: settings.requestTimeoutMilliseconds)
        pacer = settings.uploadLimit.map { UploadPacer(bytesPerSecond: $0) }
        slots = DispatchSemaphore(value: settings.concurrency)
    }

    var faults: S3Faults { faultCounts.withLock { $0 } }

    struct Call: Sendable {
        var method: String
        /// Object key in the bucket (prefix included); nil for a request on the bucket.
        var key: String?
        var query: [(name: String, value: String)] = []
        var headers: [(name: String, value: String)] = []
        var body: ArraySlice<UInt8> = []
        var maxResponseBytes = 1 << 20
        /// Where a 2xx body goes instead of the response's array (see `ResponseSink`).
        var sink: ResponseSink? = nil
        /// Sent without a signature (the anonymous-access probe).
        var anonymous = false
        /// For messages: what the request was for ("upload data/ab/…", "list snapshots/").
        var purpose: String
    }

    /// Sends `call`, retrying transient failures; returns the last response, whatever its
    /// status, or throws when no response came.
    func send(_ call: Call) throws(TransportError) -> HTTPResponse {
        let started = MonotonicClock.milliseconds()
        let payload: SigV4Payload = call.body.isEmpty ? .empty : .sha256Hex(call.body.withUnsafeBytes { Hex.encode(SHA256.hash($0)) })
        var attempt = 0
        while true {
            attempt += 1
            faultCounts.withLock { $0.requests += 1 }
            let request: HTTPRequest
            do {
                request = try prepare(call, payload: payload)
            } catch {
                throw TransportError(error)
            }
            let result = perform(request)
            let elapsed = MonotonicClock.milliseconds() - started
            let mayRetry = attempt < settings.retry.maxAttempts && elapsed < settings.retry.deadlineMilliseconds
            switch result {
            case .success(let response):
                if RetryPolicy.isRetryable(status: response.status) || Self.isRetryableError(response) {
                    faultCounts.withLock { $0.statuses[String(response.status), default: 0] += 1 }
                    if mayRetry { backoff(attempt); continue }
                }
                return response
            case .failure(let failure):
                if failure.isTransient {
                    faultCounts.withLock { $0.networkErrors += 1 }
                    let refusedTooOften = failure.isRefused && attempt >= RetryPolicy.refusedAttempts
                    if mayRetry && !refusedTooOften { backoff(attempt); continue }
                }
                throw transportError(failure, call: call, attempts: attempt)
            }
        }
    }

    private func backoff(_ attempt: Int) {
        faultCounts.withLock { $0.retries += 1 }
        let wait = settings.retry.backoffMilliseconds(after: attempt, random: Double.random(in: 0..<1))
        MonotonicClock.sleep(nanoseconds: UInt64(wait) * 1_000_000)
    }

    /// A 400 with these codes is a transient fault too: the body was damaged on the way
    /// (its hash no longer matches what was signed), or the server's side timed out.
    private static func isRetryableError(_ response: HTTPResponse) -> Bool {
        guard response.status == 400 || response.status == 409 else { return false }
        let code = S3ErrorBody(response.body)?.code
        return ["BadDigest", "XAmzContentSHA256Mismatch", "RequestTimeout", "OperationAborted", "IncompleteBody"].contains(code ?? "")
    }

    private func prepare(_ call: Call, payload: SigV4Payload) throws(CryptoError) -> HTTPRequest {
        var headers = [(name: "host", value: location.host)] + call.headers
        var sigRequest = SigV4Request(method: call.method, path: location.path(key: call.key),
                                      query: call.query, headers: headers, payload: payload)
        if !call.anonymous {
            let now = SigV4Timestamp(secondsSince1970: WallClock.secondsSince1970())
            let day = try signingKey(for: now.dateStamp)
            let signature = try signer.sign(sigRequest, at: now, key: day.key)
            headers += signature.headers
        }
        sigRequest.headers = headers
        return HTTPRequest(method: call.method, url: location.url(for: sigRequest), headers: headers,
                           body: call.body, maxResponseBytes: call.maxResponseBytes, sink: call.sink)
    }

    /// The day's signing key, kept while requests are signed on that day (UTC).
    private func signingKey(for dateStamp: String) throws(CryptoError) -> SigningDayKey {
        if let cached = dayKey.withLock({ $0 }), cached.dateStamp == dateStamp { return cached }
        let fresh = SigningDayKey(dateStamp: dateStamp, key: try signer.signingKey(dateStamp: dateStamp))
        dayKey.withLock { $0 = fresh }
        return fresh
    }

    private func perform(_ request: HTTPRequest) -> Result<HTTPResponse, HTTPFailure> {
        slots.wait()
        defer { slots.signal() }
        let pooled = idle.withLock { $0.popLast() }
        guard let connection = pooled?.connection ?? CurlConnection() else {
            return .failure(.setup(curlCode: 2, detail: "libcurl could not be initialised"))
        }
        let result = connection.perform(request, security: security,
                                        uploadPacer: request.body.isEmpty ? nil : pacer)
        idle.withLock { pool in
            if pool.count < settings.concurrency { pool.append(PooledConnection(connection: connection)) }
        }
        return result
    }

    private func transportError(_ failure: HTTPFailure, call: Call, attempts: Int) -> TransportError {
        let target = settings.targetName
        let context = ErrorContext(target: target, object: call.key)
        let tries = attempts > 1 ? " (after \(attempts) attempts)" : ""
        switch failure {
        case .tls(let code, let detail):
            return TransportError(.transportTLS, message: "target \(target): TLS to \(settings.endpoint) refused: \(detail). The endpoint's certificate must verify for its host name (TLS 1.2 or newer): if it is signed by a private CA, set ca_file = \"/path/to/ca.pem\" for this target; never turn verification off",
                                  context: context, underlying: .library("curl", code))
        case .network(let code, let detail):
            return TransportError(.transportNetwork, message: "target \(target): \(call.purpose) at \(settings.endpoint) failed\(tries): \(detail); check that the endpoint is reachable from this host (DNS, firewall, proxy) and retry",
                                  context: context, underlying: .library("curl", code))
        case .responseTooLarge(let limit):
            return TransportError(.transportTooLarge, message: "target \(target): \(call.purpose): the response is larger than \(limit) bytes, more than an object of its kind ever holds; it was planted or damaged: remove it, then run drctl check",
                                  context: context)
        case .setup(let code, let detail):
            return TransportError(.transportProtocol, message: "target \(target): \(call.purpose): libcurl refused the request: \(detail); check the endpoint URL \(settings.endpoint)",
                                  context: context, underlying: .library("curl", code))
        }
    }
}

/// A SigV4 signing key and the day (`yyyymmdd`, UTC) it signs for; shared read-only by the
/// threads that sign requests.
private final class SigningDayKey: Sendable {
    let dateStamp: String
    let key: SecureBytes

    init(dateStamp: String, key: consuming SecureBytes) {
        self.dateStamp = dateStamp
        self.key = key
    }
}

/// The `<Error>` document of a failed S3 request.
struct S3ErrorBody: Sendable {
    var code: String
    var message: String
    var requestID: String?

    init?(_ body: [UInt8]) {
        guard !body.isEmpty, let root = try? S3XML.parse(body), root.name == "Error" else { return nil }
        code = root.text(of: "Code") ?? ""
        message = root.text(of: "Message") ?? ""
        requestID = root.text(of: "RequestId")
    }
}

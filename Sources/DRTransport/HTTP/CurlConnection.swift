internal import CCurl
import DRBase

/// libcurl's global state, set up once before the first handle: `curl_global_init` is not
/// thread-safe, and a `static let` runs its initialiser exactly once (swift_once).
private enum CurlGlobal {
    static let ready: Bool = curl_global_init(Int(CURL_GLOBAL_ALL)) == CURLE_OK
}

/// How every connection of a target talks TLS and how long it waits.
struct TransportSecurity: Sendable, Equatable {
    /// Extra CA bundle (PEM) that replaces the system's for this target.
    var caFile: String?
    /// Plain http:// allowed (the configuration says `allow_insecure_http = true`).
    var allowInsecureHTTP = false
    /// Connect within this time.
    var connectTimeoutMilliseconds = 15_000
    /// Whole request, transfer included.
    var requestTimeoutMilliseconds = 120_000
    /// A transfer slower than 1 byte/s for this long is dropped (a stalled connection that
    /// would otherwise wait for the whole request timeout).
    var stallSeconds = 30
}

/// One libcurl easy handle: one connection cache, used by one thread at a time.
///
/// Kept alive between requests (`curl_easy_reset` keeps the connection, DNS and TLS session
/// caches), so a worker's requests to a target reuse one kept-alive connection. Every
/// request sets every option anew: nothing of one request leaks into the next.
final class CurlConnection {
    private let handle: UnsafeMutableRawPointer
    /// CURLOPT_ERRORBUFFER: curl's own words for the last failure (CURL_ERROR_SIZE bytes).
    private let errorBuffer: UnsafeMutablePointer<CChar>

    init?() {
        guard CurlGlobal.ready, let handle = curl_easy_init() else { return nil }
        self.handle = handle
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// curl's receive buffer: 512 KiB, the largest every libcurl accepts (7.88 raised its
    /// ceiling to 10 MB; older ones cap at 512 KiB).
    static let receiveBufferBytes = 512 << 10
    /// curl's upload buffer (its ceiling is 2 MiB).
    static let sendBufferBytes = 512 << 10

    /// Sends one request and waits for its response.
    func perform(_ request: HTTPRequest, security: TransportSecurity,
                 uploadPacer: UploadPacer?) -> Result<HTTPResponse, HTTPFailure> {
        curl_easy_reset(handle)
        errorBuffer[0] = 0
        let exchange = Exchange(body: request.body, limit: request.maxResponseBytes, sink: request.sink, pacer: uploadPacer)
        let context = Unmanaged.passRetained(exchange)
        defer { context.release() }

        var list: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(list) }
        // No `Expect: 100-continue` (a second round trip per PUT; S3 answers errors anyway),
        // and no `Accept: */*` that was not signed.
        for header in request.headers + [("Expect", ""), ("Accept", "")] {
            let line = header.1.isEmpty ? "\(header.0):" : "\(header.0): \(header.1)"
            guard let appended = curl_slist_append(list, line) else {
                return .failure(.setup(curlCode: Int(CURLE_OUT_OF_MEMORY.rawValue), detail: "out of memory for headers"))
            }
            list = appended
        }

        var code = CURLE_OK
        func set(_ result: CURLcode) { if code == CURLE_OK { code = result } }
        set(CCurl_setopt_string(handle, CURLOPT_URL, request.url))
        set(CCurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        set(CCurl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, security.allowInsecureHTTP ? "http,https" : "https"))
        set(CCurl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0))
        set(CCurl_setopt_long(handle, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1)))
        // TLS 1.2 or newer, peer and host name verified.
        set(CCurl_setopt_long(handle, CURLOPT_SSLVERSION, Int(CURL_SSLVERSION_TLSv1_2)))
        set(CCurl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1))
        set(CCurl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2))
        if let caFile = security.caFile { set(CCurl_setopt_string(handle, CURLOPT_CAINFO, caFile)) }
        set(CCurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, security.connectTimeoutMilliseconds))
        set(CCurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, security.requestTimeoutMilliseconds))
        set(CCurl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1))
        set(CCurl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, security.stallSeconds))
        set(CCurl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1))
        // Larger socket reads and writes than curl's 16 KiB and 64 KiB: a restore's 8 MiB of
        // ranged GETs took ~500 recv calls and as many polls per request.
        set(CCurl_setopt_long(handle, CURLOPT_BUFFERSIZE, Self.receiveBufferBytes))
        if request.method == "PUT" || request.method == "POST" {
            set(CCurl_setopt_long(handle, CURLOPT_UPLOAD_BUFFERSIZE, Self.sendBufferBytes))
        }
        set(CCurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer))
        set(CCurl_setopt_slist(handle, CURLOPT_HTTPHEADER, list))
        set(CCurl_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION, curlWriteBody))
        set(CCurl_setopt_pointer(handle, CURLOPT_WRITEDATA, context.toOpaque()))
        set(CCurl_setopt_data_callback(handle, CURLOPT_HEADERFUNCTION, curlWriteHeader))
        set(CCurl_setopt_pointer(handle, CURLOPT_HEADERDATA, context.toOpaque()))
        switch request.method {
        case "GET":
            set(CCurl_setopt_long(handle, CURLOPT_HTTPGET, 1))
        case "HEAD":
            set(CCurl_setopt_long(handle, CURLOPT_NOBODY, 1))
        case "PUT":
            set(CCurl_setopt_long(handle, CURLOPT_UPLOAD, 1))
            set(CCurl_setopt_off(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(request.body.count)))
            set(CCurl_setopt_data_callback(handle, CURLOPT_READFUNCTION, curlReadBody))
            set(CCurl_setopt_pointer(handle, CURLOPT_READDATA, context.toOpaque()))
            set(CCurl_setopt_seek_callback(handle, CURLOPT_SEEKFUNCTION, curlSeekBody))
            set(CCurl_setopt_pointer(handle, CURLOPT_SEEKDATA, context.toOpaque()))
        case "POST":
            set(CCurl_setopt_long(handle, CURLOPT_POST, 1))
            set(CCurl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)))
            set(CCurl_setopt_data_callback(handle, CURLOPT_READFUNCTION, curlReadBody))
            set(CCurl_setopt_pointer(handle, CURLOPT_READDATA, context.toOpaque()))
            set(CCurl_setopt_seek_callback(handle, CURLOPT_SEEKFUNCTION, curlSeekBody))
            set(CCurl_setopt_pointer(handle, CURLOPT_SEEKDATA, context.toOpaque()))
        default:
            set(CCurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method))
        }
        if code != CURLE_OK {
            return .failure(.setup(curlCode: Int(code.rawValue), detail: describe(code)))
        }

        let performed = curl_easy_perform(handle)
        if exchange.overflowed {
            return .failure(.responseTooLarge(limit: request.maxResponseBytes))
        }
        guard performed == CURLE_OK else {
            return .failure(Self.classify(performed, detail: describe(performed)))
        }
        var status = 0
        _ = CCurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .success(HTTPResponse(status: status, headers: exchange.headers, body: exchange.response, sunk: exchange.sunk))
    }

    private func describe(_ code: CURLcode) -> String {
        let own = String(cString: errorBuffer)
        if !own.isEmpty { return own }
        return String(cString: curl_easy_strerror(code))
    }

    /// Which failures are worth another try: the network's, not TLS verification or setup.
    static func classify(_ code: CURLcode, detail: String) -> HTTPFailure {
        switch code {
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
             CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR,
             CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS:
            return .tls(curlCode: Int(code.rawValue), detail: detail)
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT, CURLE_NOT_BUILT_IN, CURLE_BAD_FUNCTION_ARGUMENT,
             CURLE_UNKNOWN_OPTION, CURLE_OUT_OF_MEMORY:
            return .setup(curlCode: Int(code.rawValue), detail: detail)
        default:
            // Couldn't resolve or connect, timed out, reset, got nothing, partial body (a
            // truncated response), send or receive error.
            return .network(curlCode: Int(code.rawValue), detail: detail)
        }
    }
}

/// What one transfer's callbacks read from and write to. Reached only from curl's callbacks
/// on the thread that runs `curl_easy_perform`.
private final class Exchange {
    let body: ArraySlice<UInt8>
    var sent = 0
    /// The most a successful answer's body may hold (the caller's bound for the object).
    let limit: Int
    var overflowed = false
    var response: [UInt8] = []
    /// A 2xx body goes here instead of `response` when the request brought one.
    let sink: ResponseSink?
    /// Body bytes received under the current status (the sink's write position).
    var received = 0
    /// Bytes written into the sink.
    var sunk = 0
    var headers: [(name: String, value: String)] = []
    /// The status of the latest status line, 0 before one is seen.
    var status = 0
    let pacer: UploadPacer?

    /// Room for an S3 `<Error>` document whatever the caller's bound: a ranged GET of a few
    /// bytes from a missing object gets a 404 whose body is longer than the range, and must
    /// read as "not found", not as an object too large (radosgw's answer is ~200 bytes).
    static let errorDocumentLimit = 64 << 10

    init(body: ArraySlice<UInt8>, limit: Int, sink: ResponseSink?, pacer: UploadPacer?) {
        self.body = body
        self.limit = limit
        self.sink = sink
        self.pacer = pacer
    }

    /// Whether the body being received goes into the sink.
    var sinking: Bool { sink != nil && (200..<300).contains(status) }

    /// Copies `length` body bytes into the sink. A 206 (or other 2xx) body is the range asked
    /// for, written from the buffer's start; a 200 is the whole object (the server ignored the
    /// range): only its bytes from the sink's offset are kept. Never past the buffer's end.
    func sink(_ data: UnsafeRawPointer, _ length: Int) {
        guard let sink else { return }
        let position = Int64(received)
        let skip = status == 200 ? sink.offset : 0
        let first = max(position, skip)
        let last = min(position + Int64(length), skip + Int64(sink.buffer.count))
        if first < last {
            let count = Int(last - first)
            sink.buffer.baseAddress!.advanced(by: Int(first - skip))
                .copyMemory(from: data.advanced(by: Int(first - position)), byteCount: count)
            sunk += count
        }
        received += length
    }

    /// The bound for the body being received: the caller's for a success, an error
    /// document's for a failure status.
    var currentLimit: Int {
        status >= 300 ? max(limit, Self.errorDocumentLimit) : limit
    }
}

private func exchange(_ pointer: UnsafeMutableRawPointer?) -> Exchange {
    Unmanaged<Exchange>.fromOpaque(pointer!).takeUnretainedValue()
}

private let curlWriteBody: CCurl_data_callback = { data, size, count, user in
    let exchange = exchange(user)
    let length = size * count
    if exchange.sinking {
        guard exchange.received + length <= exchange.limit, let data else {
            exchange.overflowed = true
            return 0
        }
        exchange.sink(data, length)
        return length
    }
    guard exchange.response.count + length <= exchange.currentLimit, let data else {
        exchange.overflowed = true
        return 0 // makes curl stop with CURLE_WRITE_ERROR
    }
    exchange.response.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
    return length
}

private let curlWriteHeader: CCurl_data_callback = { data, size, count, user in
    let exchange = exchange(user)
    let length = size * count
    guard let data else { return length }
    let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    if line.hasPrefix("HTTP/") {
        // A new status line (after `100 Continue`, or a retried request): headers start anew.
        exchange.headers.removeAll()
        exchange.received = 0
        exchange.sunk = 0
        let fields = line.split(separator: " ", maxSplits: 2)
        exchange.status = fields.count >= 2 ? Int(fields[1]) ?? 0 : 0
        return length
    }
    guard let colon = line.firstIndex(of: ":") else { return length }
    let name = String(line[..<colon]).lowercased()
    var value = line[line.index(after: colon)...]
    // `isNewline`, not `== "\r"`: Swift reads CR LF as one Character, which equals neither.
    while let first = value.first, first == " " || first == "\t" { value.removeFirst() }
    while let last = value.last, last.isNewline || last == " " || last == "\t" { value.removeLast() }
    exchange.headers.append((name, String(value)))
    if name == "content-length", !exchange.sinking, let expected = Int(value), expected <= exchange.currentLimit {
        exchange.response.reserveCapacity(expected)
    }
    return length
}

private let curlReadBody: CCurl_data_callback = { buffer, size, count, user in
    let exchange = exchange(user)
    let room = size * count
    let remaining = exchange.body.count - exchange.sent
    let length = min(room, remaining)
    guard length > 0, let buffer else { return 0 }
    exchange.pacer?.take(length)
    let start = exchange.body.startIndex + exchange.sent
    exchange.body[start..<start + length].withUnsafeBytes { source in
        UnsafeMutableRawPointer(buffer).copyMemory(from: source.baseAddress!, byteCount: length)
    }
    exchange.sent += length
    return length
}

/// curl rewinds the body when it resends a request by itself (a kept-alive connection that the
/// server had closed meanwhile); without this it would fail the request instead.
private let curlSeekBody: CCurl_seek_callback = { user, offset, origin in
    let exchange = exchange(user)
    guard origin == SEEK_SET, offset >= 0, Int(offset) <= exchange.body.count else {
        return Int32(CURL_SEEKFUNC_CANTSEEK)
    }
    exchange.sent = Int(offset)
    return Int32(CURL_SEEKFUNC_OK)
}

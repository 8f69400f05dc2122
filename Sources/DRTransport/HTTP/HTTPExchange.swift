/// One HTTP request as the S3 client sends it, and what came back. Plain values: the libcurl
/// handle that carries them stays inside `CurlConnection`.
struct HTTPRequest: Sendable {
    var method: String
    /// The full URL, path and query already encoded exactly as they were signed.
    var url: String
    /// Every header to send, signed ones included; curl adds none of its own that matter
    /// (`Expect` and `Accept` are suppressed, see `CurlConnection`).
    var headers: [(name: String, value: String)]
    /// The body (PUT, POST); empty otherwise.
    var body: ArraySlice<UInt8> = []
    /// The most response-body bytes accepted; a larger body fails the request with
    /// `.responseTooLarge` before more memory is taken for it.
    var maxResponseBytes: Int
    /// Where a successful answer's body goes instead of a new array (ranged reads into a
    /// reader's reused buffer); nil: into `HTTPResponse.body`.
    var sink: ResponseSink? = nil
}

/// A caller's buffer that a 2xx body is written into as it arrives: no array per response, no
/// fresh pages faulted in per request, no copy afterwards. A failure's body (an S3 `<Error>`
/// document) still goes into `HTTPResponse.body`, where the status is interpreted.
///
/// The buffer must stay valid and untouched by anyone else until the request returns; a retry
/// writes it again from its start.
struct ResponseSink: @unchecked Sendable {
    let buffer: UnsafeMutableRawBufferPointer
    /// The object offset the buffer starts at, used only when a server ignores the `Range`
    /// header and answers 200 with the object from its start: bytes before this are dropped.
    let offset: Int64

    init(_ buffer: UnsafeMutableRawBufferPointer, offset: Int64) {
        self.buffer = buffer
        self.offset = offset
    }
}

struct HTTPResponse: Sendable {
    var status: Int
    /// Header names in lower case, in the order received.
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    /// With a `ResponseSink`: the bytes of a 2xx body written into its buffer.
    var sunk = 0

    func header(_ name: String) -> String? {
        headers.last { $0.name == name }?.value
    }
}

/// Why an exchange produced no HTTP response.
enum HTTPFailure: Error, Sendable {
    /// The connection could not be made, broke, or timed out: worth another try.
    case network(curlCode: Int, detail: String)
    /// TLS refused: protocol too old, or the peer's certificate or name did not verify. Never
    /// retried: a retry would meet the same certificate.
    case tls(curlCode: Int, detail: String)
    /// The body was larger than the request allowed.
    case responseTooLarge(limit: Int)
    /// A setting curl refused (a bad URL, an unsupported option): a bug or a bad endpoint.
    case setup(curlCode: Int, detail: String)

    var isTransient: Bool {
        if case .network = self { return true }
        return false
    }

    /// Nothing listens at the endpoint (curl's COULDNT_CONNECT: the connection was refused or
    /// no route exists). Worth a few quick tries (a server restarting), not the full budget:
    /// every request of a run would otherwise spend it before the target is left out.
    var isRefused: Bool {
        if case .network(let code, _) = self { return code == 7 }
        return false
    }

    var detail: String {
        switch self {
        case .network(_, let detail), .tls(_, let detail), .setup(_, let detail): detail
        case .responseTooLarge(let limit): "the response was larger than \(limit) bytes"
        }
    }
}

@testable import DRTransport
import Testing

/// The pieces of the S3 client that read what a server (or an attacker posing as one) sends:
/// XML, times, ETags, and the request addressing that must match what was signed.
@Suite("S3 responses and addressing")
struct S3ParsingTests {
    @Test("a ListObjectsV2 page: keys with entities, sizes, truncation, namespace prefixes")
    func listPage() throws {
        let body = """
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Name>b</Name><IsTruncated>true</IsTruncated>
              <!-- a comment -->
              <Contents><Key>p/a&amp;b&#x20;&lt;c&gt;</Key><Size>12</Size><ETag>&quot;x&quot;</ETag></Contents>
              <s3:Contents><s3:Key><![CDATA[p/<raw>]]></s3:Key><s3:Size>0</s3:Size></s3:Contents>
              <NextContinuationToken>tok/=+</NextContinuationToken>
            </ListBucketResult>
            """
        let root = try S3XML.parse(Array(body.utf8))
        #expect(root.name == "ListBucketResult")
        let contents = root.all("Contents")
        #expect(contents.map { $0.text(of: "Key") } == ["p/a&b <c>", "p/<raw>"])
        #expect(contents.map { $0.text(of: "Size") } == ["12", "0"])
        #expect(contents.first?.text(of: "ETag") == "\"x\"")
        #expect(root.text(of: "IsTruncated") == "true")
        #expect(root.text(of: "NextContinuationToken") == "tok/=+")
    }

    @Test("malformed and hostile XML is refused, not guessed", arguments: [
        "", "<a>", "<a></b>", "<a>&unknown;</a>", "<a>&#0;</a>", "<a></a><b></b>", "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
        "<a><b>text</a>", "<a x=1></a>", "not xml",
    ])
    func malformed(text: String) {
        #expect(throws: S3XML.Malformed.self) { try S3XML.parse(Array(text.utf8)) }
    }

    @Test("nesting deeper than the bound is refused (no stack exhaustion)")
    func deepNesting() {
        let depth = 10_000
        let text = String(repeating: "<a>", count: depth) + String(repeating: "</a>", count: depth)
        #expect(throws: S3XML.Malformed.self) { try S3XML.parse(Array(text.utf8)) }
    }

    @Test("an S3 error document gives its code and message")
    func errorBody() throws {
        let body = "<Error><Code>SignatureDoesNotMatch</Code><Message>no match</Message><RequestId>r1</RequestId><StringToSign>AWS4…</StringToSign></Error>"
        let error = try #require(S3ErrorBody(Array(body.utf8)))
        #expect(error.code == "SignatureDoesNotMatch")
        #expect(error.message == "no match")
        #expect(error.requestID == "r1")
        #expect(S3ErrorBody(Array("<ListBucketResult/>".utf8)) == nil)
    }

    @Test("S3 times both ways, fractions and leap-year days included")
    func times() {
        #expect(S3Time.parse("1970-01-01T00:00:00.000Z") == 0)
        #expect(S3Time.parse("2024-02-29T23:59:59Z") == 1_709_251_199)
        #expect(S3Time.parse("2026-12-02T19:00:00.123Z") == 1_796_238_000)
        #expect(S3Time.format(1_796_238_000) == "2026-12-02T19:00:00Z")
        #expect(S3Time.parse(S3Time.format(4_102_444_800)) == 4_102_444_800)
        for bad in ["", "2026-13-01T00:00:00Z", "2026-12-02 19:00:00Z", "2026-12-02T19:00:00", "2026-12-02T1a:00:00Z"] {
            #expect(S3Time.parse(bad) == nil, "\(bad)")
        }
    }

    @Test("path-style and virtual-hosted addressing, default ports left out of host")
    func addressing() throws {
        let path = try #require(S3Location(endpoint: "https://S3.Example.net:443/", bucket: "bkt", prefix: "site/a", addressing: .path))
        #expect(path.host == "s3.example.net")
        #expect(path.key("data/ab/cd") == "site/a/data/ab/cd")
        #expect(path.name(ofKey: "site/a/config") == "config")
        #expect(path.name(ofKey: "site/ab/config") == nil)
        #expect(path.path(key: "site/a/config") == "/bkt/site/a/config")
        #expect(path.path(key: nil) == "/bkt")
        let request = SigV4Request(method: "GET", path: path.path(key: "site/a/a b"), query: [("x", "1 2")], headers: [("host", path.host)])
        #expect(path.url(for: request) == "https://s3.example.net/bkt/site/a/a%20b?x=1%202")

        let virtual = try #require(S3Location(endpoint: "http://127.0.0.1:8333/base", bucket: "bkt", prefix: "", addressing: .virtualHost))
        #expect(virtual.host == "bkt.127.0.0.1:8333")
        #expect(virtual.path(key: "config") == "/base/config")
        #expect(virtual.path(key: nil) == "/base/")
        #expect(virtual.key("config") == "config")
        #expect(S3Location(endpoint: "ftp://x", bucket: "b", prefix: "", addressing: .path) == nil)
        #expect(S3Location(endpoint: "https://user:secret@x", bucket: "b", prefix: "", addressing: .path) == nil)
    }

    @Test("unfinished multipart uploads are named so that they can be aborted")
    func incompleteNames() throws {
        let name = S3ObjectStore.incompleteName("data/ab/cd", uploadID: "u?1=2")
        let parsed = try #require(S3ObjectStore.parseIncompleteName(name))
        #expect(parsed.0 == "data/ab/cd")
        #expect(parsed.1 == "u?1=2")
        #expect(S3ObjectStore.parseIncompleteName("data/ab/cd") == nil)
    }

    @Test("ETags: quotes and weak markers stripped")
    func etags() {
        #expect(S3ObjectStore.unquoted("\"abc\"") == "abc")
        #expect(S3ObjectStore.unquoted("W/\"abc\"") == "abc")
        #expect(S3ObjectStore.unquoted(nil) == nil)
    }

    @Test("back-off: full jitter under an exponential ceiling, capped")
    func backoff() {
        let policy = RetryPolicy(maxAttempts: 5, baseMilliseconds: 100, capMilliseconds: 1000)
        #expect(policy.backoffMilliseconds(after: 1, random: 0.999) == 99)
        #expect(policy.backoffMilliseconds(after: 3, random: 0.5) == 200)
        #expect(policy.backoffMilliseconds(after: 30, random: 0.999) == 999)
        #expect(policy.backoffMilliseconds(after: 2, random: 0) == 0)
        #expect(RetryPolicy.isRetryable(status: 503) && RetryPolicy.isRetryable(status: 429) && RetryPolicy.isRetryable(status: 500))
        #expect(!RetryPolicy.isRetryable(status: 501) && !RetryPolicy.isRetryable(status: 403) && !RetryPolicy.isRetryable(status: 404))
    }
}

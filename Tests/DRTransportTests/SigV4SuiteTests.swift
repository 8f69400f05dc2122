import DRBase
import DRCrypto
import DRTransport
import Foundation
import Testing

/// The AWS Signature Version 4 test suite (aws-sig-v4-test-suite, 2015-08-30 edition),
/// committed under Fixtures/sigv4 with its source in the README there.
///
/// Every vector runs under the signer's generic URI rules with service `service`, as the
/// suite is written: the generic rules are the explicit mode for the `normalize-path`
/// vectors (S3 itself never normalises a key; see `s3RulesKeepThePath`). One vector is
/// skipped and not counted as passing (`skipped` below says why); two more need a word:
/// - `post-sts-header-after` describes a token added *after* signing; drctl always signs
///   the token (S3 wants it signed), so the harness signs without it, as the vector says.
/// - `post-x-www-form-urlencoded`: the published `.creq` lists `content-type` among the
///   canonical headers but leaves it out of its SignedHeaders line, while the same
///   vector's `.sts` (the hash of the canonical request) and `.authz` both say
///   `content-type;host;x-amz-date`: an erratum in the one file. The test checks the
///   `.sts` and `.authz` as published and the `.creq` with that one line corrected
///   (and checks that the correction is what the `.sts` hash says).
@Suite("SigV4: the AWS test suite")
struct SigV4SuiteTests {
    static let vectors = SigV4Fixtures.suiteVectors()
    static let timestamp = SigV4Timestamp(amzDate: "20150830T123600Z")!
    static let token = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="

    /// Vectors for features the S3 signer does not have, with the reason.
    static let skipped: [String: String] = [
        // Its .creq moves the form body `Param1=value1` into the canonical query and signs
        // an empty payload: a convention of some query-protocol services. S3 signs a body
        // as the payload (its hash), never as query parameters.
        "post-x-www-form-urlencoded-parameters": "form body signed as query parameters (not an S3 feature)",
    ]
    static let checked = vectors.filter { skipped[($0 as NSString).lastPathComponent] == nil }

    @Test("all 31 vectors of the suite are present, 30 checked")
    func allVectorsPresent() {
        #expect(Self.vectors.count == 31)
        #expect(Self.checked.count == 30)
        #expect(Self.vectors.filter { $0.hasPrefix("normalize-path/") }.count == 7)
        #expect(Self.vectors.filter { $0.hasPrefix("post-sts-token/") }.count == 2)
    }

    @Test("canonical request, string to sign and Authorization match", arguments: checked)
    func vector(_ name: String) throws {
        let base = SigV4Fixtures.suite.appendingPathComponent(name)
        let file = base.lastPathComponent
        func published(_ ext: String) throws -> String {
            try SigV4Fixtures.text(base.appendingPathComponent("\(file).\(ext)"))
        }
        var request = try SuiteRequest(parsing: published("req"))
        let amzDate = request.take("x-amz-date")
        #expect(amzDate == Self.timestamp.amzDate)
        // The signer adds the token itself (signed); "after" means not signed at all.
        let token = request.take("x-amz-security-token")
        if file == "post-sts-header-before" { #expect(token == Self.token) }

        let credentials = try SigV4Fixtures.credentials(
            accessKeyID: "AKIDEXAMPLE", secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            sessionToken: file == "post-sts-header-before" ? Self.token : nil)
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1", service: "service", rules: .generic)
        let signed = try signer.sign(
            SigV4Request(method: request.method, path: request.path, query: request.query,
                         headers: request.headers, payload: .sha256Hex(SHA256.hexDigest(request.body))),
            at: Self.timestamp)

        var creq = try published("creq")
        if file == "post-x-www-form-urlencoded" {
            let corrected = creq.replacingOccurrences(of: "\n\nhost;x-amz-date\n", with: "\n\ncontent-type;host;x-amz-date\n")
            #expect(corrected != creq, "the erratum is no longer there: drop the correction")
            creq = corrected
            #expect(try published("sts").hasSuffix(SHA256.hexDigest(utf8: creq)))
        }
        #expect(signed.canonicalRequest == creq)
        #expect(signed.stringToSign == (try published("sts")))
        #expect(signed.authorization == (try published("authz")))
    }

    /// The suite's own note (normalize-path.txt): S3 paths are not normalised. Under S3
    /// rules each of these paths is kept as given, segment by segment.
    @Test("S3 rules keep dot segments and repeated slashes (keys are not paths)")
    func s3RulesKeepThePath() throws {
        let credentials = try SigV4Fixtures.credentials(accessKeyID: "AKIDEXAMPLE",
                                                        secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        let s3 = SigV4Signer(credentials: credentials, region: "us-east-1", rules: .s3)
        let generic = SigV4Signer(credentials: credentials, region: "us-east-1", rules: .generic)
        let cases: [(path: String, s3: String, generic: String)] = [
            ("//example//", "//example//", "/example/"),
            ("/example/..", "/example/..", "/"),
            ("/./example", "/./example", "/example"),
            ("/example1/example2/../..", "/example1/example2/../..", "/"),
            ("/example space/", "/example%20space/", "/example%20space/"),
            ("/a+b/c%d/ሴ", "/a%2Bb/c%25d/%E1%88%B4", "/a%2Bb/c%25d/%E1%88%B4"),
        ]
        for item in cases {
            let request = SigV4Request(method: "GET", path: item.path, headers: [("Host", "example.amazonaws.com")])
            let s3Line = try s3.sign(request, at: Self.timestamp).canonicalRequest.split(separator: "\n")[1]
            let genericLine = try generic.sign(request, at: Self.timestamp).canonicalRequest.split(separator: "\n")[1]
            #expect(s3Line == item.s3, "\(item.path)")
            #expect(genericLine == item.generic, "\(item.path)")
            #expect(request.encodedPath == item.s3)
        }
    }
}

import DRBase
import DRCrypto
import DRTransport
import Foundation
import Testing

/// The worked examples of the S3 API Reference ("Signature Calculations for the
/// Authorization Header: Transferring Payload in a Single Chunk"), under S3 rules with
/// service `s3`: `x-amz-content-sha256` signed, the key's `$` encoded once.
private struct S3Examples: Decodable {
    struct Example: Decodable, Sendable, CustomTestStringConvertible {
        let name: String
        let method: String
        let path: String
        let query: [[String]]
        let headers: [[String]]
        let body: String
        let payloadSHA256: String?
        let canonicalRequest: String?
        let canonicalRequestSHA256: String?
        let signedHeaders: String
        let signature: String
        var testDescription: String { name }
    }
    let accessKeyID: String
    let secretAccessKey: String
    let region: String
    let amzDate: String
    let examples: [Example]
}

private let s3Examples: S3Examples? = try? JSONDecoder().decode(
    S3Examples.self,
    from: Data(contentsOf: SigV4Fixtures.root.appendingPathComponent("s3-examples.json")))

@Suite("SigV4: the S3 documentation's examples")
struct SigV4S3Tests {
    @Test("the four examples are loaded")
    func loaded() {
        #expect(s3Examples?.examples.count == 4)
    }

    @Test("signature, signed headers and canonical request match", arguments: s3Examples?.examples ?? [])
    fileprivate func example(_ example: S3Examples.Example) throws {
        let fixture = try #require(s3Examples)
        let credentials = try SigV4Fixtures.credentials(accessKeyID: fixture.accessKeyID,
                                                        secret: fixture.secretAccessKey)
        let signer = SigV4Signer(credentials: credentials, region: fixture.region)
        let payloadHash = SHA256.hexDigest(utf8: example.body)
        if let published = example.payloadSHA256 { #expect(payloadHash == published) }
        let request = SigV4Request(method: example.method, path: example.path,
                                   query: example.query.map { ($0[0], $0[1]) },
                                   headers: example.headers.map { ($0[0], $0[1]) },
                                   payload: .sha256Hex(payloadHash))
        let time = try #require(SigV4Timestamp(amzDate: fixture.amzDate))
        let signed = try signer.sign(request, at: time)

        #expect(signed.signature == example.signature)
        #expect(signed.signedHeaders == example.signedHeaders)
        // The documentation writes the header without spaces after the commas; S3 accepts
        // both, and the suite's `.authz` files have the spaces, which drctl sends.
        #expect(signed.authorization == "AWS4-HMAC-SHA256 Credential=\(fixture.accessKeyID)/20130524/us-east-1/s3/aws4_request, SignedHeaders=\(example.signedHeaders), Signature=\(example.signature)")
        if let published = example.canonicalRequest { #expect(signed.canonicalRequest == published) }
        if let published = example.canonicalRequestSHA256 {
            #expect(SHA256.hexDigest(utf8: signed.canonicalRequest) == published)
        }
        // The headers to send carry exactly what was signed.
        let sent = Dictionary(uniqueKeysWithValues: signed.headers.map { ($0.name, $0.value) })
        #expect(sent["x-amz-date"] == fixture.amzDate)
        #expect(sent["x-amz-content-sha256"] == payloadHash)
        #expect(sent["authorization"] == signed.authorization)
        #expect(sent["x-amz-security-token"] == nil)
    }

    @Test("the PUT example's key goes on the wire encoded as it was signed")
    func encodedPath() {
        let request = SigV4Request(method: "PUT", path: "/test$file.text", headers: [("Host", "h")])
        #expect(request.encodedPath == "/test%24file.text")
        let query = SigV4Request(method: "GET", path: "/", query: [("prefix", "a b/c"), ("list-type", "2")],
                                 headers: [("Host", "h")])
        #expect(query.encodedQuery == "list-type=2&prefix=a%20b%2Fc")
    }

    @Test("UNSIGNED-PAYLOAD is signed and sent as the literal")
    func unsignedPayload() throws {
        let credentials = try SigV4Fixtures.credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE",
                                                        secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1")
        let signed = try signer.sign(
            SigV4Request(method: "GET", path: "/test.txt",
                         headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9")],
                         payload: .unsigned),
            at: SigV4Timestamp(amzDate: "20130524T000000Z")!)
        #expect(signed.canonicalRequest.hasSuffix("\nx-amz-content-sha256:UNSIGNED-PAYLOAD\nx-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\nUNSIGNED-PAYLOAD"))
        #expect(signed.headers.contains { $0.name == "x-amz-content-sha256" && $0.value == "UNSIGNED-PAYLOAD" })
    }

    @Test("a session token is signed and sent; caller copies of owned headers are replaced")
    func sessionToken() throws {
        let credentials = try SigV4Fixtures.credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE",
                                                        secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                                        sessionToken: "TOKEN/with+chars==")
        let signer = SigV4Signer(credentials: credentials, region: "eu-west-1")
        let signed = try signer.sign(
            SigV4Request(method: "HEAD", path: "/k",
                         headers: [("Host", "b.example"), ("X-Amz-Date", "19990101T000000Z"),
                                   ("Authorization", "stale")]),
            at: SigV4Timestamp(amzDate: "20240229T235959Z")!)
        #expect(signed.signedHeaders == "host;x-amz-content-sha256;x-amz-date;x-amz-security-token")
        #expect(signed.canonicalRequest.contains("\nx-amz-security-token:TOKEN/with+chars==\n"))
        #expect(signed.canonicalRequest.contains("\nx-amz-date:20240229T235959Z\n"))
        #expect(!signed.canonicalRequest.contains("19990101"))
        #expect(signed.stringToSign.contains("\n20240229/eu-west-1/s3/aws4_request\n"))
        #expect(signed.headers.filter { $0.name == "x-amz-security-token" }.map(\.value) == ["TOKEN/with+chars=="])
    }
}

@Suite("SigV4: secrets stay out of text")
struct SigV4SecrecyTests {
    static let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    static let token = "SESSIONTOKENabc123"

    @Test("description, debugDescription, interpolation and dump show no secret or token")
    func redacted() throws {
        let credentials = try SigV4Fixtures.credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE",
                                                        secret: Self.secret, sessionToken: Self.token)
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1")
        let signed = try signer.sign(SigV4Request(method: "GET", path: "/", headers: [("Host", "h")]),
                                     at: SigV4Timestamp(amzDate: "20130524T000000Z")!)
        var texts = [credentials.description, credentials.debugDescription, "\(credentials)",
                     String(reflecting: credentials), signer.description, signer.debugDescription,
                     "\(signer)", String(reflecting: signer), signed.description, "\(signed)",
                     String(reflecting: signed)]
        for value in [credentials as Any, signer as Any, signed as Any] {
            var dumped = ""
            dump(value, to: &dumped)
            texts.append(dumped)
        }
        for text in texts {
            #expect(!text.contains(Self.secret), "\(text)")
            #expect(!text.contains("wJalrXUtnFEMI"), "\(text)")
            #expect(!text.contains(Self.token), "\(text)")
        }
        #expect(credentials.description.contains("AKIAIOSFODNN7EXAMPLE"))
    }

    @Test("timestamps from Unix seconds")
    func timestamps() {
        #expect(SigV4Timestamp(secondsSince1970: 0).amzDate == "19700101T000000Z")
        #expect(SigV4Timestamp(secondsSince1970: 1_369_353_600).amzDate == "20130524T000000Z")
        #expect(SigV4Timestamp(secondsSince1970: 1_440_938_160).amzDate == "20150830T123600Z")
        #expect(SigV4Timestamp(secondsSince1970: 1_709_251_199).amzDate == "20240229T235959Z")
        #expect(SigV4Timestamp(secondsSince1970: 1_440_938_160).dateStamp == "20150830")
        #expect(SigV4Timestamp(amzDate: "2015-08-30T12:36:00Z") == nil)
        #expect(SigV4Timestamp(amzDate: "20150830T123600") == nil)
    }
}

import DRBase
import DRCrypto
@testable import DRTransport
import Foundation
import Testing

/// The credentials file: what it accepts, and errors that name the line but never a value.
@Suite("S3 credentials file")
struct S3CredentialsFileTests {
    static let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

    func write(_ text: String, mode: mode_t = 0o600) throws -> String {
        let path = NSTemporaryDirectory() + "cred-" + UUID().uuidString
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, mode)
        return path
    }

    @Test("key = value lines, comments, single and double quotes, CRLF, a session token")
    func accepted() throws {
        let path = try write("# drctl offsite\r\naccess_key_id = \"AKIDEXAMPLE\"   # the id\r\n\r\n  secret_access_key='\(Self.secret)'\r\nsession_token = \"tok/en+=\"")
        defer { unlink(path) }
        let credentials = try S3CredentialsFile.load(path: path, target: "offsite")
        #expect(credentials.accessKeyID == "AKIDEXAMPLE")
        #expect(credentials.hasSessionToken)
        let secret = credentials.secretAccessKey.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
        #expect(secret == Self.secret)
        #expect(!"\(credentials)".contains(Self.secret))
    }

    @Test("malformed files are refused with the file and line, never a value", arguments: [
        ("access_key_id = \"AKID\"\n", "no secret_access_key"),
        ("secret_access_key = \"SECRETVALUE1\"\n", "no access_key_id"),
        ("access_key_id = \"AKID\"\nsecret_access_key = SECRETVALUE1\n", "line 2"),
        ("access_key_id = \"AKID\"\nsecret_key = \"SECRETVALUE1\"\n", "unknown key secret_key"),
        ("access_key_id = \"AKID\"\nsecret_access_key = \"SECRETVALUE1\n", "no closing quote"),
        ("access_key_id = \"AKID\"\nsecret_access_key = \"SECRET\\VALUE1\"\n", "single quotes"),
        ("access_key_id = \"AKID\"\nsecret_access_key = \"SECRETVALUE1\" x\n", "line 2"),
        ("access_key_id = \"AKID\"\naccess_key_id = \"AKID\"\nsecret_access_key = \"SECRETVALUE1\"\n", "set twice"),
        ("access_key_id = \"AK ID\"\nsecret_access_key = \"SECRETVALUE1\"\n", "printable ASCII"),
        ("access_key_id = \"\"\nsecret_access_key = \"SECRETVALUE1\"\n", "empty"),
    ])
    func refused(text: String, expected: String) throws {
        let path = try write(text)
        defer { unlink(path) }
        do {
            _ = try S3CredentialsFile.load(path: path, target: "offsite")
            Issue.record("accepted: \(text.debugDescription)")
        } catch {
            #expect(error.code == .targetCredentials)
            #expect(error.message.contains(expected), "\(error.message)")
            #expect(error.message.contains(path))
            #expect(error.message.contains("target offsite"))
            #expect(!error.message.contains("SECRET"), "the message holds the secret: \(error.message)")
        }
    }

    @Test("a file readable by others, or missing, is refused before it is read")
    func modeAndMissing() throws {
        let path = try write("access_key_id = \"AKID\"\nsecret_access_key = \"SECRETVALUE1\"\n", mode: 0o644)
        defer { unlink(path) }
        for candidate in [path, path + ".missing"] {
            do {
                _ = try S3CredentialsFile.load(path: candidate, target: "offsite")
                Issue.record("accepted \(candidate)")
            } catch {
                #expect(error.code == .targetCredentials)
                #expect(error.message.contains(candidate))
                #expect(!error.message.contains("SECRET"))
            }
        }
    }
}

import Foundation
import Testing

/// The mailbox kinds every snapshot test covers: three ciphers × two journal modes.
enum Cipher: String, CaseIterable, Sendable {
    case none, chacha20, sqlcipher
}

enum JournalMode: String, CaseIterable, Sendable {
    case wal, delete
}

struct MailboxKind: Sendable, CustomStringConvertible {
    var cipher: Cipher
    var journal: JournalMode
    var description: String { "\(cipher.rawValue)/\(journal.rawValue)" }

    static let all: [MailboxKind] = Cipher.allCases.flatMap { cipher in
        JournalMode.allCases.map { MailboxKind(cipher: cipher, journal: $0) }
    }
}

/// The result of `gen-mailstore verify` for one image.
struct ImageCheck: Sendable {
    var image: String
    var counter: Int?
    var problems: [String]
}

/// A temporary directory with a freshly generated key (0600 file, never in any argv) and
/// helpers around scripts/gen-mailstore, which writes and checks mailboxes with the real
/// cipher libraries (apsw-sqlite3mc, Debian's libsqlcipher0, Python's sqlite3).
final class ImageWorkspace: @unchecked Sendable {
    let directory: String
    let keyFile: String

    static let repositoryRoot: String = {
        // Tests/drctlTests/ImageFixtures.swift → repository root
        var path = #filePath as NSString
        for _ in 0..<3 { path = path.deletingLastPathComponent as NSString }
        return path as String
    }()

    static var genMailstore: String { repositoryRoot + "/scripts/gen-mailstore" }

    init() throws {
        directory = NSTemporaryDirectory() + "drctl-snapshot-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        keyFile = directory + "/mailbox.key"
        var random = [UInt8](repeating: 0, count: 24)
        let urandom = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/urandom"))
        random = [UInt8](urandom.readData(ofLength: 24))
        try urandom.close()
        let key = random.map { String(format: "%02x", $0) }.joined()
        _ = FileManager.default.createFile(atPath: keyFile, contents: nil, attributes: [.posixPermissions: 0o600])
        try Data((key + "\n").utf8).write(to: URL(fileURLWithPath: keyFile))
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func path(_ name: String) -> String { directory + "/" + name }

    /// Runs gen-mailstore; a missing library fails the test with the package to install.
    @discardableResult
    func genMailstore(_ arguments: [String]) throws -> RunResult {
        let result = try BinaryRunner.run(ImageWorkspace.genMailstore, arguments)
        if result.status == 69 {
            Issue.record("gen-mailstore cannot run: \(result.stderr) — install the listed package (scripts/test does)")
        }
        return result
    }

    /// Creates one mailbox of `kind` and returns its path.
    func createMailbox(_ kind: MailboxKind, messages: Int = 150, seed: Int = 7, name: String? = nil) throws -> String {
        let dir = path(name ?? "store-\(kind.cipher.rawValue)-\(kind.journal.rawValue)")
        let result = try genMailstore(["create", "--dir", dir, "--key-file", keyFile, "--messages", "\(messages)",
                                       "--seed", "\(seed)", "--cipher", kind.cipher.rawValue,
                                       "--journal", kind.journal.rawValue])
        try #require(result.status == 0, "gen-mailstore create failed: \(result.stderr)")
        return dir + "/\(kind.cipher.rawValue)-\(kind.journal.rawValue)-000.db"
    }

    /// Starts a writer committing continuously against `database`.
    func startWriter(_ database: String, cipher: Cipher, extra: [String] = []) throws -> RunningProcess {
        try RunningProcess(ImageWorkspace.genMailstore,
                           ["write", "--db", database, "--cipher", cipher.rawValue, "--key-file", keyFile] + extra)
    }

    /// Opens each image with the key and checks integrity and the writer invariant.
    func verify(_ images: [String], cipher: Cipher) throws -> [ImageCheck] {
        let result = try genMailstore(["verify", "--cipher", cipher.rawValue, "--key-file", keyFile] + images)
        try #require(result.status == 0, "gen-mailstore verify failed: \(result.stderr)")
        return try result.stdout.split(separator: "\n").map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return ImageCheck(image: object["image"] as? String ?? "?", counter: object["counter"] as? Int,
                              problems: object["problems"] as? [String] ?? ["unparseable result"])
        }
    }

    /// Runs `drctl image --json` and decodes its report.
    func snapshot(_ database: String, to image: String, extra: [String] = []) throws -> (RunResult, [String: Any]?) {
        let result = try BinaryRunner.drctl(["image", database, "--to", image, "--json"] + extra)
        guard result.status == 0 else { return (result, nil) }
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return (result, object)
    }

    /// SHA-256-free fingerprint of a file's bytes (for "nothing was modified" checks).
    func contents(_ path: String) -> Data? {
        FileManager.default.contents(atPath: path)
    }

    /// The files of a mailbox (database, -wal, -shm, -journal) and their contents.
    func mailboxFiles(_ database: String) -> [String: Data] {
        var files: [String: Data] = [:]
        for suffix in ["", "-wal", "-journal"] {
            if let data = contents(database + suffix) { files[database + suffix] = data }
        }
        return files
    }
}

/// Decodes the writer's statistics file.
func readWriterStats(_ path: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

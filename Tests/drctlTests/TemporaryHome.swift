import Foundation
import Testing

/// The built `drctl` binary (or $DRCTL_BINARY).
enum Drctl {
    static var binary: String {
        ProcessInfo.processInfo.environment["DRCTL_BINARY"] ?? BinaryRunner.drctlPath
    }
}

typealias ProcessResult = RunResult

/// A throw-away HOME with its own data folder, so the embedded default of every test is
/// private to it; removed at the end.
final class TemporaryHome {
    let root: String
    var dataDirectory: String { "\(root)/data/drctl" }

    init() throws {
        let base = FileManager.default.temporaryDirectory.path
        root = "\(base)/drctl-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: root)
    }

    /// An environment with nothing of the caller's configuration in it.
    var environment: [String: String] {
        [
            "HOME": root,
            "XDG_DATA_HOME": "\(root)/data",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
        ]
    }

    func drctl(_ arguments: [String]) throws -> ProcessResult {
        try run(Drctl.binary, arguments)
    }

    func run(_ executable: String, _ arguments: [String]) throws -> ProcessResult {
        try BinaryRunner.run(executable, arguments, environment: environment, inheritEnvironment: false,
                             currentDirectory: root)
    }

    /// Writes a secret file with mode 0600.
    func secretFile(_ name: String, _ contents: String) throws -> String {
        let path = "\(root)/\(name)"
        _ = FileManager.default.createFile(atPath: path, contents: Data(contents.utf8),
                                       attributes: [.posixPermissions: 0o600])
        return path
    }

    /// A configuration with two file targets under this home and a passphrase file, with a
    /// cheap Argon2id cost so that tests stay fast.
    func configFile(passwordFile: String) throws -> String {
        let path = "\(root)/drctl.toml"
        let text = """
            [store]
            path = "\(root)/mailstore"

            [repository]
            password_file = "\(passwordFile)"
            argon2_memory = "8MiB"
            argon2_iterations = 1

            [[target]]
            name = "site-a"
            url = "file://\(root)/targets/site-a"

            [[target]]
            name = "site-b"
            url = "file://\(root)/targets/site-b"

            [state]
            path = "\(root)/state"
            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Every file under the targets with its content, to prove that nothing changed.
    func snapshotOfTargets() throws -> [String: Data] {
        var result: [String: Data] = [:]
        let base = "\(root)"
        guard let walker = FileManager.default.enumerator(atPath: base) else { return result }
        for case let relative as String in walker where relative.contains("targets/") {
            var isFolder: ObjCBool = false
            let path = "\(base)/\(relative)"
            if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue {
                result[relative] = FileManager.default.contents(atPath: path)
            }
        }
        return result
    }

    struct ListedKey: Decodable {
        var id: String
        var current: Bool
        var targets: [String]
    }

    func listKeys(_ extra: [String] = []) throws -> [ListedKey] {
        let result = try drctl(["key", "list", "--json"] + extra)
        try #require(result.status == 0, "key list failed: \(result.stderr)")
        return try JSONDecoder().decode([ListedKey].self, from: Data(result.stdout.utf8))
    }
}

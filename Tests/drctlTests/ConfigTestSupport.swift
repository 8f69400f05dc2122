import Foundation
import Testing

/// Runs the built `drctl` for the configuration tests, with a controlled environment.
///
/// Private to the Config* tests on purpose (a generic runner may appear elsewhere): the
/// child gets only the variables given here, so the developer's own DRCTL_CONFIG or HOME can
/// never leak into a result.
enum ConfigCLI {
    typealias Result = RunResult

    static func run(_ arguments: [String], environment: [String: String]) throws -> Result {
        try BinaryRunner.run(Drctl.binary, arguments, environment: environment, inheritEnvironment: false)
    }

    /// A temporary folder used as HOME for one test, removed afterwards.
    static func withHome(_ body: (String) throws -> Void) throws {
        let folder = NSTemporaryDirectory() + "drctl-config-e2e-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try body(folder)
    }

    /// Writes `text` to `path` with the given mode.
    static func write(_ text: String, to path: String, mode: Int = 0o600) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }
}

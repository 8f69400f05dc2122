import Foundation
import Testing

/// Runs the built `drctl` for the configuration tests, with a controlled environment.
///
/// Private to the Config* tests on purpose (a generic runner may appear elsewhere): the
/// child gets only the variables given here, so the developer's own DRCTL_CONFIG or HOME can
/// never leak into a result.
enum ConfigCLI {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// `drctl` sits next to the test bundle in the products folder (.build/debug).
    static func binary() throws -> URL {
        let here = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        var candidates = [here.appendingPathComponent("drctl")]
        // Bundle layouts differ between platforms; fall back to the package's .build.
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        candidates.append(package.appendingPathComponent(".build/debug/drctl"))
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw CLIError(message: "drctl binary not found in \(candidates.map(\.path))")
        }
        return found
    }

    struct CLIError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    static func run(_ arguments: [String], environment: [String: String]) throws -> Result {
        let process = Process()
        process.executableURL = try binary()
        process.arguments = arguments
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read both pipes before waiting, so that a large output cannot block the child.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
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

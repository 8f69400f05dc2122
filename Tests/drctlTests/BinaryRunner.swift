import Foundation

/// The outcome of running a program to completion.
struct RunResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
    /// The process ended by a signal (status then holds the signal number).
    var signalled: Bool
}

/// Runs the built `drctl` (or any program) with arguments, environment and working directory,
/// capturing standard output, standard error and the exit status.
///
/// Output goes through temporary files, not pipes, so a chatty child can never block on a full
/// pipe while the test waits for it.
enum BinaryRunner {
    /// The build products directory: where SwiftPM puts both the test bundle and `drctl`.
    static let productsDirectory: String = {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        return (executable as NSString).deletingLastPathComponent
    }()

    static var drctlPath: String { productsDirectory + "/drctl" }

    /// Runs `drctl` with `arguments`.
    static func drctl(_ arguments: [String], environment: [String: String]? = nil,
                      currentDirectory: String? = nil, standardInput: String? = nil) throws -> RunResult {
        try run(drctlPath, arguments, environment: environment, currentDirectory: currentDirectory,
                standardInput: standardInput)
    }

    /// Runs any executable (found on PATH when `executable` has no slash) to completion.
    /// - Parameter inheritEnvironment: false gives the child exactly `environment` (so that the
    ///   developer's own DRCTL_CONFIG or HOME can never leak into a result).
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                    inheritEnvironment: Bool = true,
                    currentDirectory: String? = nil, standardInput: String? = nil) throws -> RunResult {
        let process = try RunningProcess(executable, arguments, environment: environment,
                                         inheritEnvironment: inheritEnvironment,
                                         currentDirectory: currentDirectory, standardInput: standardInput)
        return process.wait()
    }
}

/// A started child process whose output is collected in temporary files.
final class RunningProcess: @unchecked Sendable {
    let process = Process()
    private let outPath: String
    private let errPath: String

    init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
         inheritEnvironment: Bool = true, currentDirectory: String? = nil, standardInput: String? = nil) throws {
        let id = UUID().uuidString
        outPath = NSTemporaryDirectory() + "drctl-run-\(id).out"
        errPath = NSTemporaryDirectory() + "drctl-run-\(id).err"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        if executable.contains("/") {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [executable] + arguments
        }
        if let environment {
            process.environment = inheritEnvironment
                ? ProcessInfo.processInfo.environment.merging(environment) { $1 }
                : environment
        }
        if let currentDirectory {
            process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory)
        }
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let standardInput {
            input.fileHandleForWriting.write(Data(standardInput.utf8))
        }
        try? input.fileHandleForWriting.close()
    }

    var pid: Int32 { process.processIdentifier }

    /// Standard output so far.
    var currentOutput: String {
        (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
    }

    /// Sends a signal (SIGTERM to stop gracefully, SIGKILL to simulate a crash).
    func signal(_ number: Int32) {
        kill(process.processIdentifier, number)
    }

    /// Waits until standard output contains `text` or `seconds` pass; returns whether it did.
    func waitForOutput(containing text: String, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if currentOutput.contains(text) { return true }
            if !process.isRunning { return currentOutput.contains(text) }
            usleep(20_000)
        }
        return false
    }

    func wait() -> RunResult {
        process.waitUntilExit()
        let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: outPath)
        try? FileManager.default.removeItem(atPath: errPath)
        return RunResult(status: process.terminationStatus, stdout: out, stderr: err,
                         signalled: process.terminationReason == .uncaughtSignal)
    }
}

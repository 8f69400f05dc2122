import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `scripts/lib/tests/s3_fault_proxy.py` in front of a real S3 server on loopback: the one
/// fake the project allows, for faults a real server cannot be made to produce (dropped
/// connections, bursts of 5xx and SlowDown, latency, truncated bodies, a target that is down)
/// and for a self-signed TLS endpoint. Requests are forwarded unchanged, so the real server
/// still checks every signature.
package final class FaultProxy: @unchecked Sendable {
    package let folder: String
    package let endpoint: String
    /// The self-signed certificate (TLS mode), for a `ca_file` that trusts it.
    package let certificate: String?
    private let process: Process

    package var planFile: String { folder + "/plan.json" }
    package var statsFile: String { folder + "/stats.json" }

    /// - Parameter plan: the faults, as the proxy's plan JSON (see the script's header).
    package init(upstream: String, plan: [String: Any] = [:], tls: Bool = false) throws {
        folder = NSTemporaryDirectory() + "drctl-proxy-" + UUID().uuidString.lowercased()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let portFile = folder + "/port"
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        var arguments = ["python3", FaultProxy.script, "--upstream", upstream, "--port", "0", "--port-file", portFile,
                         "--plan", folder + "/plan.json", "--stats-file", folder + "/stats.json"]
        if tls { arguments += ["--tls-self-signed", folder] }
        process.arguments = arguments
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        let log = folder + "/proxy.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: log)
        certificate = tls ? folder + "/cert.pem" : nil
        var port: String?
        try FaultProxy.write(plan, to: folder + "/plan.json")
        try process.run()
        for _ in 0..<200 {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8),
               !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                port = text.trimmingCharacters(in: .whitespacesAndNewlines)
                break
            }
            guard process.isRunning else { break }
            usleep(50_000)
        }
        guard let port else {
            process.terminate()
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw FaultProxyError(description: "the fault proxy did not start: \(text)")
        }
        endpoint = (tls ? "https" : "http") + "://127.0.0.1:" + port
    }

    /// Replaces the faults (the proxy reloads its plan when the file changes).
    package func setPlan(_ plan: [String: Any]) throws {
        try FaultProxy.write(plan, to: planFile)
    }

    /// What the proxy counted: requests forwarded, faults injected by kind.
    package func stats() -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: statsFile),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return object
    }

    package func stop() {
        if process.isRunning {
            // SIGTERM, and SIGKILL if it is not gone in 3 s: a proxy thread blocked on a client's
            // kept-alive connection must never hang the test run.
            process.terminate()
            for _ in 0..<60 where process.isRunning { usleep(50_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: folder)
    }

    deinit { stop() }

    static let script: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/scripts/lib/tests/s3_fault_proxy.py"
    }()

    private static func write(_ plan: [String: Any], to path: String) throws {
        let data = try JSONSerialization.data(withJSONObject: plan, options: [.sortedKeys])
        let temporary = path + ".tmp"
        try data.write(to: URL(fileURLWithPath: temporary))
        _ = rename(temporary, path)
    }
}

package struct FaultProxyError: Error, CustomStringConvertible {
    package var description: String
}

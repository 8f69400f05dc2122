import DRBase
import DRConfig
import Foundation
import Testing

/// A fresh temporary folder for one test, removed afterwards.
private func withTemporaryFolder(_ body: (String) throws -> Void) throws {
    let folder = NSTemporaryDirectory() + "drctl-loader-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    try body(folder)
}

private let minimal = """
[store]
path = "mail"
[repository]
key_file = "repository.key"
[[target]]
name = "one"
url = "file:///mnt/one"
"""

@Suite("Configuration loader")
struct ConfigurationLoaderTests {
    @Test("order: --config, then $DRCTL_CONFIG, then the system file, then the embedded default")
    func order() throws {
        try withTemporaryFolder { folder in
            let explicit = folder + "/explicit.toml", fromEnvironment = folder + "/env.toml"
            let system = folder + "/system.toml"
            for path in [explicit, fromEnvironment, system] {
                try minimal.write(toFile: path, atomically: true, encoding: .utf8)
            }
            let environment = ["DRCTL_CONFIG": fromEnvironment, "HOME": folder]
            #expect(try ConfigurationLoader.load(explicitPath: explicit, environment: environment,
                                                 systemPath: system).source == .file(explicit))
            #expect(try ConfigurationLoader.load(explicitPath: nil, environment: environment,
                                                 systemPath: system).source == .file(fromEnvironment))
            #expect(try ConfigurationLoader.load(explicitPath: nil, environment: ["HOME": folder, "DRCTL_CONFIG": ""],
                                                 systemPath: system).source == .file(system))
            #expect(try ConfigurationLoader.load(explicitPath: nil, environment: ["HOME": folder],
                                                 systemPath: folder + "/absent.toml").source
                    == .embedded(dataDirectory: folder + "/.local/share/drctl"))
        }
    }

    @Test("a named file that does not exist is an error, never a silent fallback")
    func namedFileMissing() throws {
        for (explicit, environment) in [("/nonexistent/drctl.toml", [String: String]()),
                                        (nil, ["DRCTL_CONFIG": "/nonexistent/drctl.toml"])] as [(String?, [String: String])] {
            do {
                _ = try ConfigurationLoader.load(explicitPath: explicit, environment: environment.merging(["HOME": "/tmp"]) { a, _ in a },
                                                 systemPath: "/nonexistent/system.toml")
                Issue.record("loaded a configuration from a file that does not exist")
            } catch {
                #expect(error.code == .configNotFound)
                #expect(error.exitStatus == .noInput)
                #expect(error.message.contains("/nonexistent/drctl.toml"))
                #expect(error.message.contains(explicit == nil ? "$DRCTL_CONFIG" : "--config"))
            }
        }
    }

    @Test("relative paths resolve against the file's folder")
    func relativeToFile() throws {
        try withTemporaryFolder { folder in
            try FileManager.default.createDirectory(atPath: folder + "/etc", withIntermediateDirectories: true)
            try minimal.write(toFile: folder + "/etc/drctl.toml", atomically: true, encoding: .utf8)
            let config = try ConfigurationLoader.load(file: folder + "/etc/drctl.toml")
            #expect(config.store.path == folder + "/etc/mail")
            #expect(config.repository.keyFile == folder + "/etc/repository.key")
        }
    }

    @Test("data folder: XDG_DATA_HOME, else HOME/.local/share; relative XDG ignored")
    func dataDirectory() throws {
        #expect(try ConfigurationLoader.dataDirectory(environment: ["XDG_DATA_HOME": "/x/data", "HOME": "/h"]) == "/x/data/drctl")
        #expect(try ConfigurationLoader.dataDirectory(environment: ["XDG_DATA_HOME": "rel", "HOME": "/h"]) == "/h/.local/share/drctl")
        #expect(throws: ConfigError.self) { _ = try ConfigurationLoader.dataDirectory(environment: [:]) }
    }

    @Test("the embedded default")
    func embeddedDefault() {
        let config = Configuration.embeddedDefault(dataDirectory: "/d")
        #expect(config.source == .embedded(dataDirectory: "/d"))
        #expect(config.store == .init(path: "/d/mailstore", include: ["**/*.sqlite"]))
        #expect(config.repository.keyFile == "/d/repository.key")
        #expect(config.repository.passwordFile == nil)
        #expect(config.targets.map(\.name) == ["local-a", "local-b"])
        #expect(config.targets.map(\.url) == ["file:///d/targets/local-a", "file:///d/targets/local-b"])
        #expect(config.targets[0].location == .file(path: "/d/targets/local-a"))
        #expect(config.objectives == Configuration.Defaults.objectives)
        #expect(config.retention == .init(keepDaily: 7, keepWeekly: 5, keepMonthly: 12))
        #expect(config.drill == .init(every: .init(seconds: 7 * 86400), sample: 10,
                                      signingKeyFile: "/d/drill-signing.key", reportDirectory: "/d/reports"))
        #expect(config.logs == .init(sources: ["/d/logs/*.log*"], retain: .init(seconds: 30 * 86400),
                                     ip: .prefixPreserving, keyFile: "/d/logs.key"))
        #expect(config.stateDirectory == "/d/state")
        #expect(config.secretFiles.map(\.key) == ["repository.key_file", "drill.signing_key_file", "logs.key_file"])
        #expect(config.secretFiles.allSatisfy { $0.createdByInit })
    }

    @Test("secret file status: mode checked, missing generated keys are not problems")
    func secretStatus() throws {
        try withTemporaryFolder { folder in
            let path = folder + "/k"
            try "secret".write(toFile: path, atomically: true, encoding: .utf8)
            let file = SecretFile(key: "repository.key_file", purpose: "repository key file", path: path, createdByInit: true)
            chmod(path, 0o644)
            let open = SecretFileStatus.inspect(file)
            #expect(open.state == .modeTooOpen)
            #expect(open.mode == "0644")
            #expect(open.isProblem)
            #expect(open.detail?.contains("chmod 600 \(path)") == true)
            chmod(path, 0o600)
            #expect(SecretFileStatus.inspect(file).state == .ok)
            let missingKey = SecretFileStatus.inspect(SecretFile(key: "k", purpose: "p", path: folder + "/none", createdByInit: true))
            #expect(missingKey.state == .missing)
            #expect(!missingKey.isProblem)
            let missingPass = SecretFileStatus.inspect(SecretFile(key: "k", purpose: "p", path: folder + "/none", createdByInit: false))
            #expect(missingPass.isProblem)
            #expect(SecretFileStatus.inspect(SecretFile(key: "k", purpose: "p", path: folder, createdByInit: false)).state == .notRegular)
        }
    }
}

import Foundation
import Testing

/// A valid file with two targets; its secret files are created by `prepare`.
private func goodConfig(_ home: String) -> String {
    """
    [store]
    path = "\(home)/mail"

    [repository]
    key_file = "keys/repository.key"

    [[target]]
    name = "offsite"
    url = "s3://fe-backups-eu/mailboxes"
    endpoint = "https://s3.eu-central-1.example.net"
    region = "eu-central-1"
    credentials_file = "keys/offsite.credentials"

    [[target]]
    name = "local"
    url = "file://\(home)/targets/local"

    [drill]
    signing_key_file = "keys/drill-signing.key"
    """
}

/// Writes the good configuration and its secret files (mode 0600); returns the config path.
private func prepare(_ home: String) throws -> String {
    let path = home + "/etc/drctl.toml"
    try ConfigCLI.write(goodConfig(home), to: path, mode: 0o644)
    for name in ["repository.key", "offsite.credentials", "drill-signing.key"] {
        try ConfigCLI.write("not-a-real-secret\n", to: home + "/etc/keys/" + name)
    }
    return path
}

private func environment(_ home: String) -> [String: String] {
    ["HOME": home, "PATH": "/usr/bin:/bin"]
}

@Suite("drctl config check (end to end)")
struct ConfigCheckTests {
    @Test("a good file: exit 0, every target listed with kind and location, secrets never printed")
    func goodFile() throws {
        try ConfigCLI.withHome { home in
            let path = try prepare(home)
            let result = try ConfigCLI.run(["config", "check", "--config", path], environment: environment(home))
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("Configuration: \(path)"))
            #expect(result.stdout.contains("[[target]] offsite (line 7)"))
            #expect(result.stdout.contains("[[target]] local (line 14)"))
            #expect(result.stdout.contains("bucket            fe-backups-eu"))
            #expect(result.stdout.contains("path              \(home)/targets/local"))
            #expect(result.stdout.contains("\(home)/etc/keys/repository.key (mode 0600)"))
            #expect(!result.stdout.contains("not-a-real-secret"))
            #expect(!result.stderr.contains("not-a-real-secret"))
            #expect(result.stdout.contains("OK: 2 targets"))
        }
    }

    @Test("a typo: exit 78, stderr names FILE:LINE and suggests the key")
    func typo() throws {
        try ConfigCLI.withHome { home in
            let path = try prepare(home)
            let text = goodConfig(home).replacingOccurrences(of: "region =", with: "regoin =")
            try ConfigCLI.write(text, to: path)
            let result = try ConfigCLI.run(["config", "check", "--config", path], environment: environment(home))
            #expect(result.status == 78)
            #expect(result.stderr.contains("\(path):11: [[target]] #1 \"offsite\": unknown key \"regoin\" — did you mean \"region\"?"),
                    "\(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }

    @Test("a syntax error: exit 78 with FILE:LINE:COLUMN")
    func syntax() throws {
        try ConfigCLI.withHome { home in
            let path = home + "/bad.toml"
            try ConfigCLI.write("[store]\npath = /var/mail\n", to: path)
            let result = try ConfigCLI.run(["config", "check", "--config", path], environment: environment(home))
            #expect(result.status == 78)
            #expect(result.stderr.contains("\(path):2:8: unquoted text /var/mail") || result.stderr.contains("\(path):2:8: expected a value"),
                    "\(result.stderr)")
        }
    }

    @Test("a key file of mode 0644: exit 78, the message names the path and chmod 600")
    func openKeyFile() throws {
        try ConfigCLI.withHome { home in
            let path = try prepare(home)
            let key = home + "/etc/keys/repository.key"
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: key)
            let result = try ConfigCLI.run(["config", "check", "--config", path], environment: environment(home))
            #expect(result.status == 78)
            #expect(result.stderr.contains(key))
            #expect(result.stderr.contains("chmod 600 \(key)"), "\(result.stderr)")
            #expect(result.stdout.contains("MODE TOO OPEN"))
            #expect(!result.stdout.contains("not-a-real-secret"))
        }
    }

    @Test("a named file that does not exist: exit 66")
    func missingFile() throws {
        try ConfigCLI.withHome { home in
            var env = environment(home)
            env["DRCTL_CONFIG"] = home + "/nope.toml"
            let result = try ConfigCLI.run(["config", "check"], environment: env)
            #expect(result.status == 66)
            #expect(result.stderr.contains("\(home)/nope.toml (named by $DRCTL_CONFIG) does not exist"), "\(result.stderr)")
        }
    }

    @Test("--json parses, with the expected fields")
    func json() throws {
        try ConfigCLI.withHome { home in
            let path = try prepare(home)
            let result = try ConfigCLI.run(["config", "check", "--config", path, "--json"], environment: environment(home))
            #expect(result.status == 0, "\(result.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            #expect(object["schema"] as? String == "drctl.config-check/1")
            #expect(object["ok"] as? Bool == true)
            let source = try #require(object["source"] as? [String: Any])
            #expect(source["kind"] as? String == "file")
            #expect(source["path"] as? String == path)
            let targets = try #require(object["targets"] as? [[String: Any]])
            #expect(targets.map { $0["name"] as? String } == ["offsite", "local"])
            #expect(targets.map { $0["kind"] as? String } == ["s3", "file"])
            #expect(targets[0]["bucket"] as? String == "fe-backups-eu")
            #expect(targets[0]["prefix"] as? String == "mailboxes")
            #expect(targets[0]["region"] as? String == "eu-central-1")
            #expect(targets[1]["path"] as? String == home + "/targets/local")
            let objectives = try #require(object["objectives"] as? [String: [String: Any]])
            #expect(objectives["rpo"]?["seconds"] as? Int == 86400)
            let secrets = try #require(object["secret_files"] as? [[String: Any]])
            #expect(secrets.map { $0["key"] as? String } == ["repository.key_file", "target.offsite.credentials_file", "drill.signing_key_file"])
            #expect(secrets.allSatisfy { $0["status"] as? String == "ok" && $0["mode"] as? String == "0600" })
            #expect(object["state"] != nil && object["store"] != nil && object["repository"] != nil)
        }
    }

    @Test("--json on a broken file: ok false with located problems, exit 78")
    func jsonFailure() throws {
        try ConfigCLI.withHome { home in
            let path = try prepare(home)
            try ConfigCLI.write(goodConfig(home) + "\n[objectives]\nrpo = 24\n", to: path)
            let result = try ConfigCLI.run(["config", "check", "--config", path, "--json"], environment: environment(home))
            #expect(result.status == 78)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            #expect(object["ok"] as? Bool == false)
            let problems = try #require(object["problems"] as? [[String: Any]])
            #expect(problems.first?["code"] as? String == "config.type")
            #expect(problems.first?["line"] as? Int == 21, "\(result.stdout)")
        }
    }

    @Test("no configuration: the embedded default under the data folder")
    func embeddedDefault() throws {
        try ConfigCLI.withHome { home in
            let result = try ConfigCLI.run(["config", "check"], environment: environment(home))
            let data = home + "/.local/share/drctl"
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("embedded default"))
            #expect(result.stdout.contains("[[target]] local-a"))
            #expect(result.stdout.contains("[[target]] local-b"))
            #expect(result.stdout.contains("\(data)/targets/local-a"))
            #expect(result.stdout.contains("\(data)/repository.key — will be created by drctl init"))

            var xdg = environment(home)
            xdg["XDG_DATA_HOME"] = home + "/xdg"
            let json = try ConfigCLI.run(["config", "check", "--json"], environment: xdg)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            let source = try #require(object["source"] as? [String: Any])
            #expect(source["kind"] as? String == "embedded")
            #expect(source["data_directory"] as? String == home + "/xdg/drctl")
        }
    }

    @Test("drctl config --help teaches: abstract, discussion and an example")
    func help() throws {
        let result = try ConfigCLI.run(["config", "--help"], environment: ["PATH": "/usr/bin:/bin"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("Check the configuration"))
        #expect(result.stdout.contains("$DRCTL_CONFIG"))
        #expect(result.stdout.contains("drctl config check --config /etc/drctl/drctl.toml"))
        #expect(result.stdout.contains("check"))
        #expect(result.stdout.contains("example"))
    }

    @Test("drctl config example is a valid configuration")
    func example() throws {
        try ConfigCLI.withHome { home in
            let printed = try ConfigCLI.run(["config", "example"], environment: environment(home))
            #expect(printed.status == 0)
            let path = home + "/example.toml"
            try ConfigCLI.write(printed.stdout, to: path)
            let result = try ConfigCLI.run(["config", "check", "--config", path, "--json"], environment: environment(home))
            // The example names files under /etc/drctl that do not exist here: the passphrase
            // and credentials are reported missing (78), but the file itself decodes.
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            #expect((object["targets"] as? [Any])?.count == 2)
        }
    }
}

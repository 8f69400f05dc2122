import DRBase
import DRConfig
import Testing

/// A minimal valid configuration; tests append to it or replace lines.
private let base = """
[store]
path = "/var/lib/mail/mailboxes"

[repository]
key_file = "/etc/drctl/repository.key"

[[target]]
name = "a"
url = "file:///mnt/a"

[[target]]
name = "us-east"
url = "s3://fe-backups-us/mail"
endpoint = "https://s3.us-east-1.example.net"
credentials_file = "/etc/drctl/us-east.credentials"

"""

private func decode(_ text: String) throws(ConfigError) -> Configuration {
    try ConfigurationLoader.decode(text: text, path: "/etc/drctl/drctl.toml")
}

/// Decodes, expecting failure; returns the error (or records an issue).
private func failure(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> ConfigError? {
    do {
        _ = try decode(text)
        Issue.record("decoded, but must fail", sourceLocation: sourceLocation)
        return nil
    } catch {
        #expect(error.exitStatus == .configuration, sourceLocation: sourceLocation)
        return error
    }
}

@Suite("Configuration decoder")
struct ConfigurationDecoderTests {
    @Test("the ARCHITECTURE.md example decodes to the model, with defaults filled in")
    func architectureExampleDecodes() throws {
        let config = try decode(architectureExample)
        #expect(config.source == .file("/etc/drctl/drctl.toml"))
        #expect(config.store == .init(path: "/var/lib/mail/mailboxes", include: ["**/*.sqlite"]))
        #expect(config.repository.passwordFile == "/etc/drctl/repository.pass")
        #expect(config.repository.keyFile == nil)
        #expect(config.repository.argon2Memory == 256 << 20)
        #expect(config.targets.count == 2)
        #expect(config.targets[0] == .init(name: "eu-central", location: .s3(bucket: "fe-backups-eu", prefix: "mailboxes"),
                                           url: "s3://fe-backups-eu/mailboxes",
                                           endpoint: "https://s3.eu-central-1.example.net", region: "eu-central-1",
                                           credentialsFile: "/etc/drctl/eu-central.credentials", line: 8))
        #expect(config.targets[1] == .init(name: "us-east", location: .file(path: "/mnt/dr-us/mailboxes"),
                                           url: "file:///mnt/dr-us/mailboxes", line: 15))
        #expect(config.objectives.rpo.seconds == 86400)
        #expect(config.objectives.rto.seconds == 4 * 3600)
        #expect(config.retention == .init(keepLast: 0, keepDaily: 7, keepWeekly: 5, keepMonthly: 12))
        #expect(config.drill == .init(every: .init(seconds: 7 * 86400), sample: 10,
                                      signingKeyFile: "/etc/drctl/drill-signing.key",
                                      reportDirectory: "/var/lib/drctl/reports"))
        #expect(config.logs == .init(sources: ["/var/log/mail.log.*"], retain: .init(seconds: 30 * 86400),
                                     ip: .prefixPreserving, keyFile: "/etc/drctl/logs.key"))
        #expect(config.stateDirectory == "/var/lib/drctl")
        #expect(config.advisories.isEmpty)
    }

    @Test("the embedded example text decodes")
    func exampleTextDecodes() throws {
        let config = try decode(Configuration.exampleText)
        #expect(config.targets.map(\.name) == ["eu-central", "us-east"])
    }

    @Test("a typo in a key names the line and suggests the right key")
    func typoSuggestion() throws {
        let error = try #require(failure(base.replacingOccurrences("endpoint =", "endpiont =")))
        let problem = try #require(error.problems.first { $0.code == .configUnknownKey })
        #expect(problem.line == 14)
        #expect(error.message.contains(#"/etc/drctl/drctl.toml:14: [[target]] #2 "us-east": unknown key "endpiont" — did you mean "endpoint"? Allowed keys: name, url, priority, endpoint, region, credentials_file, systemd_credential, addressing, ca_file, allow_insecure_http, allow_public, object_lock, upload_limit, concurrency, part_size, request_timeout"#),
                "\(error.message)")
    }

    @Test("an unknown section is named with a suggestion")
    func unknownSection() throws {
        let error = try #require(failure(base + "[retension]\nkeep_daily = 3\n"))
        #expect(error.code == .configUnknownSection)
        #expect(error.message.hasPrefix("/etc/drctl/drctl.toml:16: unknown section [retension] — did you mean [retention]?"),
                "\(error.message)")
    }

    @Test("a key before the first header is pointed to its section")
    func strayTopLevelKey() throws {
        let error = try #require(failure("sample = 3\n" + base))
        #expect(error.message.contains("drctl.toml:1: key sample is outside any section — it belongs under [drill]"),
                "\(error.message)")
    }

    @Test("a wrong type says what is expected, with an example")
    func wrongType() throws {
        let error = try #require(failure(base + "[objectives]\nrpo = 24\n"))
        #expect(error.code == .configType)
        #expect(error.message == #"/etc/drctl/drctl.toml:17: [objectives]: rpo: expected a duration string like "24h" (a whole number and a unit: s, m, h, d or w), found the integer 24"#)
        let quotedNumber = try #require(failure(base + "[retention]\nkeep_daily = \"7\"\n"))
        #expect(quotedNumber.message.contains("keep_daily: expected an integer like 7 (without quotes), found the string \"7\""))
    }

    @Test("a target without url: missing key at the line of its header")
    func missingURL() throws {
        let error = try #require(failure(base + "[[target]]\nname = \"c\"\n"))
        #expect(error.code == .configMissingKey)
        #expect(error.message.hasPrefix(#"/etc/drctl/drctl.toml:16: [[target]] #3 "c": missing key "url" — add url = "s3://bucket/prefix""#),
                "\(error.message)")
    }

    @Test("duplicate target names are refused at the second one")
    func duplicateNames() throws {
        let error = try #require(failure(base + "[[target]]\nname = \"a\"\nurl = \"file:///mnt/other\"\n"))
        #expect(error.message == #"/etc/drctl/drctl.toml:16: [[target]] #3: duplicate target name "a" — already used by the [[target]] at line 7; names must be unique"#)
    }

    @Test("two targets in the same place are refused")
    func duplicateLocation() throws {
        let error = try #require(failure(base + "[[target]]\nname = \"b\"\nurl = \"file:///mnt/a/\"\n"))
        #expect(error.message.contains(#"[[target]] #3 "b": same location as target "a""#), "\(error.message)")
        // The same bucket and prefix at the same endpoint (however its case and slash are written).
        let s3 = "[[target]]\nname = \"again\"\nurl = \"s3://fe-backups-us/mail\"\nendpoint = \"https://S3.us-east-1.example.net/\"\ncredentials_file = \"/etc/drctl/x.credentials\"\n"
        let again = try #require(failure(base + s3))
        #expect(again.message.contains(#"[[target]] #3 "again": same location as target "us-east""#), "\(again.message)")
        // The same bucket name at another provider is another place.
        let elsewhere = s3.replacingOccurrences("https://S3.us-east-1.example.net/", "https://s3.eu-west.other.example")
        #expect(try decode(base + elsewhere).targets.count == 3)
    }

    @Test("target names must match [a-z0-9][a-z0-9._-]*", arguments: ["Upper", "-dash", "has space", "ü", ""])
    func badTargetName(_ name: String) throws {
        let error = try #require(failure(base.replacingOccurrences("name = \"a\"", "name = \(quotedTOML(name))")))
        #expect(error.code == .configInvalidValue)
        #expect(error.problems.first?.line == 8)
    }

    @Test("bad URLs are refused with what is expected", arguments: [
        ("s3://Fe_Backups/x", "bucket \"Fe_Backups\" has characters that are not allowed"),
        ("s3://ab/x", "bucket \"ab\" has 2 characters"),
        ("s3://-bucket/x", "must start and end with a letter or digit"),
        ("s3://my..bucket", "two adjacent periods"),
        ("s3://192.168.1.10/x", "must not look like an IP address"),
        ("s3://bucket/a//b", "must not contain empty, . or .. segments"),
        ("file://relative/path", "a file URL needs an absolute path, with three slashes"),
        ("file:///", "the root folder cannot be a target"),
        ("https://example.net/b", "unsupported scheme \"https\""),
        ("/mnt/backup", "is not a URL"),
    ])
    func badURL(_ url: String, _ fragment: String) throws {
        let error = try #require(failure(base.replacingOccurrences("s3://fe-backups-us/mail", url)))
        #expect(error.problems.first?.line == 13)
        #expect(error.message.contains(fragment), "\(error.message)")
    }

    @Test("http endpoints need allow_insecure_http and a loopback host", arguments: [
        ("http://s3.example.net", false, false), ("http://127.0.0.1:9000", false, false),
        ("http://s3.example.net", true, false), ("http://10.0.0.1:9000", true, false), ("http://127.0.0.2:9000", true, false),
        ("http://127.0.0.1:9000", true, true), ("http://localhost:9000", true, true), ("http://[::1]:9000/", true, true),
        ("https://s3.example.net:8443", false, true), ("ftp://s3.example.net", true, false),
        ("https://user:pw@s3.example.net", false, false), ("https://s3.example.net:99999", false, false),
    ])
    func endpoint(_ endpoint: String, _ allowInsecure: Bool, _ accepted: Bool) throws {
        var text = base.replacingOccurrences("https://s3.us-east-1.example.net", endpoint)
        if allowInsecure {
            text = text.replacingOccurrences("credentials_file = \"/etc/drctl/us-east.credentials\"\n",
                                             "credentials_file = \"/etc/drctl/us-east.credentials\"\nallow_insecure_http = true\n")
        }
        if accepted {
            let target = try decode(text).targets[1]
            #expect(target.endpoint == endpoint)
            #expect(target.s3.allowInsecureHTTP == allowInsecure)
        } else {
            let error = try #require(failure(text))
            #expect(error.problems.first?.line == 14)
            if endpoint.hasPrefix("http://") {
                #expect(error.message.contains("plain http:// is refused"), "\(error.message)")
                #expect(error.message.contains(allowInsecure ? "even with allow_insecure_http" : "add allow_insecure_http"), "\(error.message)")
            }
        }
    }

    @Test("s3 targets need endpoint and credentials_file; region defaults to us-east-1")
    func s3Requirements() throws {
        let config = try decode(base)
        #expect(config.targets[1].region == "us-east-1")
        #expect(config.targets[0].region == nil)
        let text = base.replacingOccurrences("endpoint = \"https://s3.us-east-1.example.net\"\n", "")
            .replacingOccurrences("credentials_file = \"/etc/drctl/us-east.credentials\"\n", "")
        let error = try #require(failure(text))
        #expect(error.problems.map(\.code) == [.configMissingKey, .configMissingKey])
        #expect(error.problems.allSatisfy { $0.line == 11 })
        #expect(error.message.contains("missing key \"endpoint\""))
        #expect(error.message.contains("missing key \"credentials_file\""))
        let fileWithEndpoint = try #require(failure(base.replacingOccurrences("url = \"file:///mnt/a\"", "url = \"file:///mnt/a\"\nregion = \"x\"")))
        #expect(fileWithEndpoint.message.contains("only s3:// targets take region"))
    }

    @Test("durations: units, ranges and malformed text", arguments: [
        ("rpo = \"90m\"", 5400 as Int64?), ("rpo = \"2w\"", 1_209_600), ("rpo = \"3600s\"", 3600),
        ("rpo = \"24 h\"", nil), ("rpo = \"1y\"", nil), ("rpo = \"0h\"", nil), ("rpo = \"400d\"", nil),
        ("rpo = \"-1h\"", nil), ("rpo = \"h\"", nil),
    ])
    func durations(_ line: String, _ seconds: Int64?) throws {
        let text = base + "[objectives]\n" + line + "\n"
        if let seconds {
            #expect(try decode(text).objectives.rpo.seconds == seconds)
        } else {
            let error = try #require(failure(text))
            #expect(error.code == .configInvalidValue)
            #expect(error.problems.first?.line == 17)
        }
    }

    @Test("ConfigDuration parses and prints")
    func configDuration() {
        #expect(ConfigDuration(parsing: "24h")?.seconds == 86400)
        #expect(ConfigDuration(parsing: "7d")?.description == "1w")
        #expect(ConfigDuration(parsing: "") == nil)
        #expect(ConfigDuration(parsing: "9999999999999999999w") == nil)
    }

    @Test("[repository] needs exactly one of password_file and key_file")
    func repositoryUnlock() throws {
        let neither = try #require(failure(base.replacingOccurrences("key_file = \"/etc/drctl/repository.key\"\n", "")))
        #expect(neither.message.hasPrefix("/etc/drctl/drctl.toml:4: [repository]: missing password_file or key_file"), "\(neither.message)")
        let both = try #require(failure(base.replacingOccurrences("key_file = \"/etc/drctl/repository.key\"",
                                                                  "key_file = \"/k\"\npassword_file = \"/p\"")))
        #expect(both.message.contains("both set — keep exactly one"))
    }

    @Test("argon2 sizes with units and ranges")
    func argon2() throws {
        let ok = try decode(base.replacingOccurrences("[repository]\n", "[repository]\nargon2_memory = \"1GiB\"\nargon2_iterations = 4\n"))
        #expect(ok.repository.argon2Memory == 1 << 30)
        #expect(ok.repository.argon2Iterations == 4)
        let small = try #require(failure(base.replacingOccurrences("[repository]\n", "[repository]\nargon2_memory = \"1MiB\"\n")))
        #expect(small.message.contains("out of range: expected 8MiB to 16GiB"))
        let noUnit = try #require(failure(base.replacingOccurrences("[repository]\n", "[repository]\nargon2_memory = \"256MB\"\n")))
        #expect(noUnit.message.contains("is not a size"))
    }

    @Test("numbers in sane ranges; retention cannot be all zero")
    func ranges() throws {
        let sample = try #require(failure(base + "[drill]\nsample = 0\n"))
        #expect(sample.message.contains("[drill]: sample: 0 is out of range: expected 1 to 100000"))
        let zero = try #require(failure(base + "[retention]\nkeep_daily = 0\nkeep_weekly = 0\nkeep_monthly = 0\n"))
        #expect(zero.message.contains("forget would delete every snapshot but the newest"))
        // keep_within alone is a rule; so is keep_hourly or keep_yearly alone.
        let within = try decode(base + "[retention]\nkeep_daily = 0\nkeep_weekly = 0\nkeep_monthly = 0\nkeep_within = \"14d\"\n")
        #expect(within.retention == .init(keepDaily: 0, keepWeekly: 0, keepMonthly: 0, keepWithin: ConfigDuration(seconds: 14 * 86400)))
        let calendar = try decode(base + "[retention]\nkeep_hourly = 24\nkeep_yearly = 3\n")
        #expect(calendar.retention == .init(keepHourly: 24, keepDaily: 7, keepWeekly: 5, keepMonthly: 12, keepYearly: 3))
        let badWithin = try #require(failure(base + "[retention]\nkeep_within = 14\n"))
        #expect(badWithin.message.contains("keep_within: expected a duration string like \"14d\""), "\(badWithin.message)")
        let zeroWithin = try #require(failure(base + "[retention]\nkeep_within = \"0s\"\n"))
        #expect(zeroWithin.message.contains("keep_within"), "\(zeroWithin.message)")
        let page = try #require(failure(base.replacingOccurrences("[store]\n", "[store]\nfallback_page_size = 1000\n")))
        #expect(page.message.contains("power of two"))
    }

    @Test("[store] include must be a non-empty array of relative patterns")
    func include() throws {
        #expect(try #require(failure(base.replacingOccurrences("[store]\n", "[store]\ninclude = []\n"))).message.contains("at least one pattern"))
        #expect(try #require(failure(base.replacingOccurrences("[store]\n", "[store]\ninclude = \"*.sqlite\"\n"))).code == .configType)
        #expect(try #require(failure(base.replacingOccurrences("[store]\n", "[store]\ninclude = [\"/abs/*.sqlite\"]\n"))).message.contains("remove the leading /"))
        #expect(try decode(base.replacingOccurrences("[store]\n", "[store]\ninclude = [\"*/*.db\", \"**/*.sqlite\"]\n")).store.include == ["*/*.db", "**/*.sqlite"])
    }

    @Test("[logs] ip mode with a suggestion; prefix-preserving with sources needs key_file")
    func logs() throws {
        let typo = try #require(failure(base + "[logs]\nip = \"prefix_preserving\"\n"))
        #expect(typo.message.contains("did you mean \"prefix-preserving\"?"), "\(typo.message)")
        let noKey = try #require(failure(base + "[logs]\nsources = [\"/var/log/mail.log\"]\n"))
        #expect(noKey.message.contains("[logs]: missing key \"key_file\""))
        let truncate = try decode(base + "[logs]\nsources = [\"/var/log/mail.log\"]\nip = \"truncate\"\n")
        #expect(truncate.logs.ip == .truncate)
    }

    @Test("[logs.anonymize]: defaults, every key, the old [logs] ip mapped, line-accurate errors")
    func logAnonymization() throws {
        let defaults = try decode(base).logs.anonymize
        #expect(defaults == .init() && defaults.ip == .ipcryptPfx && defaults.addresses == .tokenKeepDomain && defaults.maxLine == 65536)
        let all = try decode(base + """
            [logs.anonymize]
            ip = "crypto-pan"
            ipv4_prefix = 16
            ipv6_prefix = 32
            addresses = "token"
            usernames = "redact"
            json_fields = ["client.ip", "account.name"]
            max_line = "1MiB"

            """).logs.anonymize
        #expect(all.ip == .cryptoPan && all.ipv4Prefix == 16 && all.ipv6Prefix == 32 && all.addresses == .token
                && all.usernames == .redact && all.jsonFields == ["client.ip", "account.name"] && all.maxLine == 1 << 20)
        #expect(try decode(base + "[logs]\nip = \"truncate\"\n").logs.anonymize.ip == .truncate)
        let contradiction = try #require(failure(base + "[logs]\nip = \"truncate\"\n\n[logs.anonymize]\nip = \"ipcrypt-pfx\"\n"))
        #expect(contradiction.message.contains("contradicts [logs] ip"), "\(contradiction.message)")
        let typo = try #require(failure(base + "[logs.anonymize]\nip = \"ipcrypt_pfx\"\n"))
        #expect(typo.message.contains("did you mean \"ipcrypt-pfx\"?"), "\(typo.message)")
        let line = base.split(separator: "\n", omittingEmptySubsequences: false).count + 1
        #expect(typo.problems.first?.line == line, "\(typo.problems)")
        let range = try #require(failure(base + "[logs.anonymize]\nipv4_prefix = 33\n"))
        #expect(range.message.contains("out of range"), "\(range.message)")
        let unknown = try #require(failure(base + "[logs.anonymize]\nip_method = \"truncate\"\n"))
        #expect(unknown.message.contains("unknown key \"ip_method\""), "\(unknown.message)")
        let badPath = try #require(failure(base + "[logs.anonymize]\njson_fields = [\"client..ip\"]\n"))
        #expect(badPath.message.contains("keys joined by dots"), "\(badPath.message)")
    }

    @Test("relative paths resolve against the configuration file's folder; ~ is refused")
    func relativePaths() throws {
        let text = base.replacingOccurrences("/var/lib/mail/mailboxes", "../mail")
            .replacingOccurrences("/etc/drctl/repository.key", "keys/./repository.key") + "[state]\npath = \"state\"\n"
        let config = try ConfigurationLoader.decode(text: text, path: "conf/drctl.toml", workingDirectory: "/srv/drctl")
        #expect(config.source == .file("/srv/drctl/conf/drctl.toml"))
        #expect(config.store.path == "/srv/drctl/mail")
        #expect(config.repository.keyFile == "/srv/drctl/conf/keys/repository.key")
        #expect(config.stateDirectory == "/srv/drctl/conf/state")
        #expect(config.drill.reportDirectory == "/srv/drctl/conf/state/reports")
        let tilde = try #require(failure(base.replacingOccurrences("/var/lib/mail/mailboxes", "~/mail")))
        #expect(tilde.message.contains("~ is not expanded"))
    }

    @Test("every problem is reported, in line order")
    func allProblems() throws {
        let error = try #require(failure(base.replacingOccurrences("endpoint =", "endpiont =") + "[objectives]\nrpo = 24\n[drill]\nsampel = 3\n"))
        #expect(error.problems.map(\.line) == [11, 14, 17, 19])
        #expect(error.message.split(separator: "\n").count == 4)
        #expect(error.message.contains("missing key \"endpoint\""))
    }

    @Test("missing required sections; [target] without double brackets")
    func missingSections() throws {
        let error = try #require(failure("[state]\npath = \"/x\"\n"))
        #expect(error.problems.map(\.text).contains { $0.hasPrefix("missing section [store]") })
        #expect(error.problems.map(\.text).contains { $0.hasPrefix("missing section [repository]") })
        #expect(error.problems.map(\.text).contains { $0.hasPrefix("no target: add at least one [[target]]") })
        let single = try #require(failure(base.replacingOccurrences("[[target]]\nname = \"a\"", "[targets]\nname = \"a\"")
            .replacingOccurrences("[[target]]", "[target]")))
        #expect(single.message.contains("[target] must be written [[target]]"), "\(single.message)")
    }

    @Test("one target is valid, with a note that two are wanted")
    func oneTarget() throws {
        let text = base.components(separatedBy: "[[target]]\nname = \"us-east\"")[0]
        let config = try decode(text)
        #expect(config.targets.count == 1)
        #expect(config.advisories.contains { $0.hasPrefix("only one target") })
    }

    @Test("did-you-mean uses transpositions, case and dashes")
    func suggestions() throws {
        let dash = try #require(failure(base.replacingOccurrences("key_file =", "key-file =")))
        #expect(dash.message.contains("did you mean \"key_file\"?"))
        let far = try #require(failure(base.replacingOccurrences("key_file =", "zzz =")))
        #expect(!far.message.contains("did you mean"))
    }
}

extension String {
    fileprivate func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        let parts = components(separatedBy: target)
        #expect(parts.count > 1, "test fixture: \(target) not found")
        return parts.joined(separator: replacement)
    }

    fileprivate func components(separatedBy separator: String) -> [String] {
        var parts: [String] = []
        var rest = Substring(self)
        while let range = rest.firstRange(of: separator) {
            parts.append(String(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        parts.append(String(rest))
        return parts
    }
}

private func quotedTOML(_ text: String) -> String {
    "\"" + text.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
}

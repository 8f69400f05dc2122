import Foundation
import Testing

/// Hostile or careless configuration files: a secret pasted into a URL is never echoed, and
/// nesting deep enough to overflow the parser's stack is refused with a line, not a crash.
@Suite("configuration hardening (end to end)")
struct ConfigHardeningTests {
    static func configuration(url: String, endpoint: String? = nil) -> String {
        """
        [store]
        path = "/srv/mail"

        [repository]
        key_file = "repository.key"

        [[target]]
        name = "offsite"
        url = "\(url)"
        \(endpoint.map { "endpoint = \"\($0)\"\nregion = \"eu-central-1\"" } ?? "")

        [[target]]
        name = "local"
        url = "file:///srv/backup"
        """
    }

    @Test("credentials in a target URL or an endpoint are refused and never echoed", arguments: [
        (url: "s3://AKIAFAKEKEYID:fake-secret-value-9f3@mailboxes/eu", endpoint: nil as String?),
        (url: "s3://mailboxes/eu", endpoint: "https://AKIAFAKEKEYID:fake-secret-value-9f3@s3.example.net"),
        (url: "s3://mailboxes/eu", endpoint: "ftp://AKIAFAKEKEYID:fake-secret-value-9f3@s3.example.net"),
    ])
    func credentialsMasked(url: String, endpoint: String?) throws {
        try ConfigCLI.withHome { home in
            let path = home + "/drctl.toml"
            try ConfigCLI.write(Self.configuration(url: url, endpoint: endpoint), to: path)
            for arguments in [["config", "check", "--config", path], ["config", "check", "--config", path, "--json"],
                              ["snapshots", "--config", path]] {
                let result = try ConfigCLI.run(arguments, environment: ["HOME": home, "PATH": "/usr/bin:/bin"])
                #expect(result.status == 78, "\(arguments): \(result.stderr)")
                let output = result.stdout + result.stderr
                #expect(!output.contains("fake-secret-value-9f3"), "the secret was echoed by \(arguments): \(output)")
                #expect(!output.contains("AKIAFAKEKEYID"), "the key id was echoed by \(arguments)")
                #expect(output.contains("***@"), "the masked URL is not named: \(output)")
                #expect(output.contains("credentials_file"))
            }
        }
    }

    @Test("nesting deeper than the parser allows is a syntax error naming the line", arguments: [
        "x = " + String(repeating: "[", count: 100_000),
        "x = " + String(repeating: "{ a = ", count: 50_000),
        "[" + (0..<20_000).map { "k\($0)" }.joined(separator: ".") + "]",
    ])
    func deepNesting(text: String) throws {
        try ConfigCLI.withHome { home in
            let path = home + "/drctl.toml"
            try ConfigCLI.write("[store]\npath = \"/srv/mail\"\n" + text + "\n", to: path)
            let result = try ConfigCLI.run(["config", "check", "--config", path], environment: ["HOME": home, "PATH": "/usr/bin:/bin"])
            #expect(!result.signalled, "drctl crashed (signal \(result.status))")
            #expect(result.status == 78, "\(result.stderr.prefix(300))")
            #expect(result.stderr.contains("\(path):3:"), "the line is not named: \(result.stderr.prefix(300))")
            #expect(result.stderr.contains("nested more than 32") || result.stderr.contains("more than 16 parts"))
        }
    }
}

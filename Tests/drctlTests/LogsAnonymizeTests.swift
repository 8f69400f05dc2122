import Foundation
import Testing

/// `drctl logs anonymize` end to end: thousands of planted personal items in every format and
/// position (scripts/gen-maillog) must not survive in any textual form (scripts/lib/tests/
/// log_leak_check.py), with the line count and the non-personal fields unchanged; prefixes are
/// kept exactly (checked against `drctl logs ip`); truncation; long lines and invalid UTF-8;
/// files and standard streams; bad input refused with nothing written.
@Suite("drctl logs anonymize")
struct LogsAnonymizeTests {
    static func randomKey() -> String {
        (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    /// Generates a log and its manifest; returns (log, manifest).
    static func generate(_ home: TemporaryHome, seed: UInt32, lines: Int, extra: [String] = []) throws -> (String, String) {
        let python = try Python.require()
        let log = "\(home.root)/in-\(seed).log", manifest = "\(home.root)/manifest-\(seed).json"
        let result = try home.run(python, ["\(ProjectRoot.path)/scripts/gen-maillog", "--seed", "\(seed)", "--lines", "\(lines)",
                                           "--output", log, "--manifest", manifest] + extra)
        try #require(result.status == 0, "gen-maillog failed: \(result.stderr)")
        return (log, manifest)
    }

    /// The leak checker's report; #expect-s that it passed.
    @discardableResult
    static func check(_ home: TemporaryHome, manifest: String, input: String, output: String, mode: String = "pseudonym",
                      seed: UInt32) throws -> [String: Any] {
        let python = try Python.require()
        let result = try home.run(python, ["\(ProjectRoot.path)/scripts/lib/tests/log_leak_check.py", "--manifest", manifest,
                                           "--input", input, "--output", output, "--mode", mode])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
                                  "checker printed no report: \(result.stderr)")
        #expect(result.status == 0, "seed \(seed): leaks or missing fields: \(result.stdout.prefix(3000))")
        #expect(report["leak_count"] as? Int == 0 && report["missing_count"] as? Int == 0, "seed \(seed)")
        #expect(report["lines_in"] as? Int == report["lines_out"] as? Int)
        return report
    }

    /// `sh -c` so that bytes (invalid UTF-8 included) go through the standard streams as they are.
    static func shell(_ home: TemporaryHome, _ command: String) throws -> ProcessResult {
        try home.run("/bin/sh", ["-c", command])
    }

    @Test("thousands of planted items in every format: none survives, line count and other fields unchanged (stdin to stdout)")
    func noLeaks() throws {
        let home = try TemporaryHome()
        let seed = UInt32.random(in: 1...UInt32.max)
        let (log, manifest) = try Self.generate(home, seed: seed, lines: 4000, extra: ["--long-lines", "4", "--invalid-utf8", "8"])
        let key = try home.secretFile("log.key", Self.randomKey() + "\n")
        let output = "\(home.root)/out.log"
        let run = try Self.shell(home, "'\(Drctl.binary)' logs anonymize --raw-key-file '\(key)' --json < '\(log)' > '\(output)'")
        #expect(run.status == 0, "seed \(seed): \(run.stderr)")
        let report = try Self.check(home, manifest: manifest, input: log, output: output, seed: seed)
        let planted = try #require(report["planted"] as? [String: Int])
        for kind in ["ipv4", "ipv6", "address", "username", "session", "secret", "card"] {
            #expect((planted[kind] ?? 0) >= (kind == "card" ? 100 : 1000), "seed \(seed): only \(planted[kind] ?? 0) \(kind) planted")
        }
        // The summary (on standard error, as standard output carries the log) counts them.
        let summary = try #require(run.stderr.split(separator: "\n").last.flatMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }, "no JSON summary: \(run.stderr)")
        #expect(summary["lines"] as? Int == 4000 && (summary["longLines"] as? Int ?? 0) >= 1, "\(summary)")
        #expect((summary["sessions"] as? Int ?? 0) > 500 && (summary["ipInHostNames"] as? Int ?? 0) > 50, "\(summary)")
        // Invalid UTF-8 passes through byte for byte around what was replaced.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: output))
        let marker = Data([0xFF, 0xFE]), tail = Data([0x20, 0xC3, 0x28])
        #expect(bytes.ranges(of: marker).count == 8 && bytes.ranges(of: tail).count == 8, "invalid UTF-8 changed")
    }

    @Test("a log read in pieces of 1 byte to 70 kB (lines split across reads) comes out as from one file, and leaks nothing")
    func piecesAsWhole() throws {
        let home = try TemporaryHome()
        let seed = UInt32.random(in: 1...UInt32.max)
        let (log, manifest) = try Self.generate(home, seed: seed, lines: 3000, extra: ["--long-lines", "4", "--invalid-utf8", "8"])
        let key = try home.secretFile("log.key", Self.randomKey() + "\n")
        let python = try Python.require()
        let whole = "\(home.root)/whole.log", pieces = "\(home.root)/pieces.log"
        let fromFile = try Self.shell(home, "'\(Drctl.binary)' logs anonymize --raw-key-file '\(key)' --quiet < '\(log)' > '\(whole)'")
        #expect(fromFile.status == 0, "seed \(seed): \(fromFile.stderr)")
        // The writer's pieces reach the anonymizer as separate reads (or fewer, coalesced), so
        // lines, and the batches of lines the anonymizer collects, straddle its inputs.
        let writer = "import os, random, sys; random.seed(\(seed)); d = open(sys.argv[1], 'rb').read(); i = 0\n"
            + "while i < len(d):\n    n = random.choice([1, 7, 100, 4096, 70000]); os.write(1, d[i:i + n]); i += n\n"
        let fromPipe = try Self.shell(home, "'\(python)' -c \"\(writer)\" '\(log)' | '\(Drctl.binary)' logs anonymize --raw-key-file '\(key)' --quiet > '\(pieces)'")
        #expect(fromPipe.status == 0, "seed \(seed): \(fromPipe.stderr)")
        let expected = try Data(contentsOf: URL(fileURLWithPath: whole))
        #expect(!expected.isEmpty)
        #expect(try Data(contentsOf: URL(fileURLWithPath: pieces)) == expected, "seed \(seed): the output depends on how the input was read")
        try Self.check(home, manifest: manifest, input: log, output: pieces, seed: seed)
    }

    @Test("prefixes kept exactly and as drctl logs ip computes them; forms kept: ::ffff:, IPv6: literals, ports, zones, reversed names")
    func prefixesAndForms() throws {
        let home = try TemporaryHome()
        let key = Self.randomKey()
        let keyFile = try home.secretFile("log.key", key + "\n")
        let v4 = ["192.0.2.1", "192.0.2.77", "192.0.3.1", "192.1.2.1", "198.51.100.23", "10.0.0.1", "10.128.0.1"]
        let v6 = ["2001:db8::1", "2001:db8::ff", "2001:db8:0:1::1", "2001:db9::1", "2a02:1234:abcd::42"]
        var text = ""
        for address in v4 { text += "Dec  7 04:29:39 mx1 postfix/smtpd[123]: connect from unknown[\(address)]\n" }
        for address in v6 { text += "Dec  7 04:29:39 mx1 postfix/smtpd[123]: connect from unknown[\(address)]\n" }
        text += "Dec  7 04:29:39 mx1 courieresmtpd: error,relay=::ffff:192.0.2.1,port=25\n"
        text += "Dec  7 04:29:39 mx1 postfix/smtpd[1]: x: helo=<[IPv6:2001:DB8::1]> [192.0.2.1]:2525 fe80::1%eth0 2001:db8::/32\n"
        text += "Dec  7 04:29:39 mx1 postfix/smtpd[1]: connect from 1.2.0.192.pool.example[192.0.2.1]\n"
        let input = "\(home.root)/forms.log"
        try text.write(toFile: input, atomically: true, encoding: .utf8)
        for method in ["ipcrypt-pfx", "crypto-pan"] {
            let config = try home.configFile(passwordFile: try home.secretFile("pw", "x\n"))
            try (try String(contentsOfFile: config, encoding: .utf8) + "\n[logs.anonymize]\nip = \"\(method)\"\n")
                .write(toFile: config, atomically: true, encoding: .utf8)
            let run = try Self.shell(home, "'\(Drctl.binary)' logs anonymize --config '\(config)' --raw-key-file '\(keyFile)' < '\(input)'")
            try #require(run.status == 0, "\(method): \(run.stderr)")
            let lines = run.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.count == text.split(separator: "\n", omittingEmptySubsequences: false).count)
            let got = (v4 + v6).indices.map { index -> String in
                let line = lines[index]
                return String(line[line.index(after: line.lastIndex(of: "[")!)..<line.lastIndex(of: "]")!])
            }
            let expected = try LogsIPTests.pseudonyms(home, key: key, method: method, v4 + v6)
            #expect(got == expected, "\(method): the log's pseudonyms differ from drctl logs ip's")
            let all = v4 + v6
            for i in all.indices {
                for j in all.indices where i < j && all[i].contains(":") == all[j].contains(":") {
                    #expect(LogsIPTests.sharedPrefix(all[i], all[j]) == LogsIPTests.sharedPrefix(got[i], got[j]), "\(method): \(all[i]) / \(all[j])")
                }
            }
            let pseudo = expected[0] // of 192.0.2.1
            let forms = lines[all.count]
            #expect(forms.contains("relay=::ffff:\(pseudo),port=25"), "\(method): \(forms)")
            let literal = lines[all.count + 1]
            #expect(literal.contains("helo=<[IPv6:\(expected[v4.count].uppercased())]>"), "\(method): \(literal)")
            #expect(literal.contains("[\(pseudo)]:2525") && literal.contains("%eth0 ") && literal.hasSuffix("/32"), "\(method): \(literal)")
            #expect(!literal.contains("fe80::1%") && !literal.contains("2001:db8::/32"), "\(method): \(literal)")
            let reversed = pseudo.split(separator: ".").reversed().joined(separator: ".")
            #expect(lines[all.count + 2].contains("connect from \(reversed).pool.example[\(pseudo)]"), "\(method): \(lines[all.count + 2])")
        }
    }

    @Test("truncation (files to files, --output-dir, --json): /24 and /48 kept, nothing else of the address")
    func truncation() throws {
        let home = try TemporaryHome()
        let seed = UInt32.random(in: 1...UInt32.max)
        let (log, manifest) = try Self.generate(home, seed: seed, lines: 1500)
        let config = try home.configFile(passwordFile: try home.secretFile("pw", "x\n"))
        try (try String(contentsOfFile: config, encoding: .utf8) + "\n[logs.anonymize]\nip = \"truncate\"\n")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let key = try home.secretFile("log.key", Self.randomKey() + "\n")
        let small = "\(home.root)/small.log"
        try "connect from unknown[198.51.100.23] and [2001:db8:aaaa:bbbb::1]:25\n".write(toFile: small, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: "\(home.root)/anon", withIntermediateDirectories: true)
        let run = try home.drctl(["logs", "anonymize", "--config", config, "--raw-key-file", key, "--output-dir", "\(home.root)/anon",
                                  "--json", log, small])
        #expect(run.status == 0, "\(run.stderr)")
        let parsed = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]]
        let summaries = try #require(parsed, "\(run.stdout)")
        let firstOutput = summaries.first?["output"] as? String
        #expect(summaries.count == 2 && firstOutput == "\(home.root)/anon/in-\(seed).log.anon", "\(run.stdout)")
        try Self.check(home, manifest: manifest, input: log, output: "\(home.root)/anon/in-\(seed).log.anon", mode: "truncate", seed: seed)
        let truncated = try String(contentsOfFile: "\(home.root)/anon/small.log.anon", encoding: .utf8)
        #expect(truncated == "connect from unknown[198.51.100.0] and [2001:db8:aaaa::]:25\n", "\(truncated)")
    }

    @Test("bad input: a missing file, a folder, a bad key, an output that is an input — a clear error and nothing written")
    func badInput() throws {
        let home = try TemporaryHome()
        let key = try home.secretFile("log.key", Self.randomKey() + "\n")
        let good = "\(home.root)/good.log"
        try "connect from unknown[192.0.2.1]\n".write(toFile: good, atomically: true, encoding: .utf8)
        let missing = try home.drctl(["logs", "anonymize", "--raw-key-file", key, good, "\(home.root)/nope.log"])
        #expect(missing.status == 66 && missing.stderr.contains("nope.log"), "\(missing.status): \(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: good + ".anon"), "an output was written before every input was checked")
        let folder = try home.drctl(["logs", "anonymize", "--raw-key-file", key, home.root])
        #expect(folder.status == 66 && folder.stderr.contains("not a regular file"), "\(folder.stderr)")
        let half = String(repeating: "ab", count: 16)
        let equal = try home.secretFile("equal.key", half + half + "\n")
        let badKey = try home.drctl(["logs", "anonymize", "--raw-key-file", equal, good])
        #expect(badKey.status == 78 && badKey.stderr.contains("halves are equal") && !badKey.stderr.contains(half), "\(badKey.stderr)")
        let notHex = try home.secretFile("nothex.key", "zz\n")
        #expect(try home.drctl(["logs", "anonymize", "--raw-key-file", notHex, good]).status == 78)
        #expect(!FileManager.default.fileExists(atPath: good + ".anon"))
        let same = "\(home.root)/x.log.anon"
        try "a\n".write(toFile: "\(home.root)/x.log", atomically: true, encoding: .utf8)
        try "keep me\n".write(toFile: same, atomically: true, encoding: .utf8)
        let clash = try home.drctl(["logs", "anonymize", "--raw-key-file", key, "\(home.root)/x.log", same])
        #expect(clash.status == 73 && clash.stderr.contains("also an input"), "\(clash.status): \(clash.stderr)")
        #expect(try String(contentsOfFile: same, encoding: .utf8) == "keep me\n", "an input was overwritten")
        try FileManager.default.createDirectory(atPath: "\(home.root)/other", withIntermediateDirectories: true)
        try "b\n".write(toFile: "\(home.root)/other/good.log", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: "\(home.root)/out", withIntermediateDirectories: true)
        let twins = try home.drctl(["logs", "anonymize", "--raw-key-file", key, "--output-dir", "\(home.root)/out", good, "\(home.root)/other/good.log"])
        #expect(twins.status == 73 && twins.stderr.contains("two inputs of the same name"), "\(twins.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(home.root)/out").isEmpty, "a partial output was left")
        let badFormat = try home.drctl(["logs", "anonymize", "--raw-key-file", key, "--format", "sendmail", good])
        #expect(badFormat.status == 64 && badFormat.stderr.contains("--format"), "\(badFormat.stderr)")
        let noDir = try home.drctl(["logs", "anonymize", "--raw-key-file", key, "--output-dir", "\(home.root)/none", good])
        #expect(noDir.status == 73 && noDir.stderr.contains("none"), "\(noDir.stderr)")
        // Without --raw-key-file the day's keys are asked for (the key store lands with logs retain).
        let noKey = try home.drctl(["logs", "anonymize", good])
        #expect(noKey.status != 0 && !FileManager.default.fileExists(atPath: good + ".anon"), "\(noKey.stderr)")
        let run = try home.drctl(["logs", "anonymize", "--raw-key-file", key, good])
        let anonymized = try String(contentsOfFile: good + ".anon", encoding: .utf8)
        #expect(run.status == 0 && !anonymized.contains("192.0.2.1") && anonymized.hasPrefix("connect from unknown["), "\(run.stderr)")
    }
}

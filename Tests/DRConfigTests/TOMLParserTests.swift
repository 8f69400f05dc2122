import DRBase
import DRConfig
import Foundation
import Testing

/// A document and its expected canonical form (see `TOMLTable.canonical`).
struct ValidDocument: Sendable, CustomTestStringConvertible {
    let name: String
    let text: String
    let expected: String
    var testDescription: String { name }
}

/// A document and where (and what) the syntax error must be.
struct InvalidDocument: Sendable, CustomTestStringConvertible {
    let name: String
    let text: String
    let line: Int
    let column: Int
    let fragment: String
    var testDescription: String { name }
}

let validDocuments: [ValidDocument] = [
    .init(name: "empty", text: "", expected: "{}"),
    .init(name: "comments and blank lines", text: "# only a comment\n\n   # another\n", expected: "{}"),
    .init(name: "bare key", text: "a = 1", expected: "{a = 1}"),
    .init(name: "CRLF line endings", text: "a = 1\r\nb = 2\r\n", expected: "{a = 1, b = 2}"),
    .init(name: "quoted keys", text: "\"a b\" = 1\n'c.d' = 2\n\"\" = 3",
          expected: "{\"a b\" = 1, \"c.d\" = 2, \"\" = 3}"),
    .init(name: "dotted keys", text: "a.b.c = 1\na.b.d = 2\na . e = 3",
          expected: "{a = {b = {c = 1, d = 2}, e = 3}}"),
    .init(name: "basic string escapes", text: #"s = "tab\there \"q\" back\\slash \u00e9 \U0001F600 nl\n""#,
          expected: #"{s = "tab\there \"q\" back\\slash é 😀 nl\n"}"#),
    .init(name: "literal string", text: #"s = 'C:\Users\drctl'"#, expected: #"{s = "C:\\Users\\drctl"}"#),
    .init(name: "multi-line basic with trimmed first newline and line-ending backslash",
          text: "s = \"\"\"\nThe quick \\\n    brown fox\"\"\"", expected: "{s = \"The quick brown fox\"}"),
    .init(name: "multi-line basic keeps newlines and up to two quotes before closing",
          text: "s = \"\"\"a\nb\"\"\"\"\"", expected: "{s = \"a\\nb\\\"\\\"\"}"),
    .init(name: "multi-line literal", text: "s = '''\nfirst\n  second \\n'''", expected: "{s = \"first\\n  second \\\\n\"}"),
    .init(name: "integers", text: "a = +99\nb = -17\nc = 1_000_000\nd = 0\ne = 0xDEAD_beef\nf = 0o755\ng = 0b1101",
          expected: "{a = 99, b = -17, c = 1000000, d = 0, e = 3735928559, f = 493, g = 13}"),
    .init(name: "integer limits", text: "a = 9223372036854775807\nb = -9223372036854775808",
          expected: "{a = 9223372036854775807, b = -9223372036854775808}"),
    .init(name: "floats", text: "a = 3.14\nb = -0.01\nc = 5e+22\nd = 6.626e-34\ne = 1_000.5\nf = inf\ng = -inf\nh = nan",
          expected: "{a = 3.14, b = -0.01, c = 5e+22, d = 6.626e-34, e = 1000.5, f = inf, g = -inf, h = nan}"),
    .init(name: "booleans", text: "t = true\nf = false", expected: "{t = true, f = false}"),
    .init(name: "date-times", text: "a = 1979-05-27T07:32:00Z\nb = 1979-05-27 07:32:00.999-07:00\nc = 1979-05-27\nd = 07:32:00",
          expected: "{a = 1979-05-27T07:32:00Z, b = 1979-05-27 07:32:00.999-07:00, c = 1979-05-27, d = 07:32:00}"),
    .init(name: "multi-line array with comments and trailing comma",
          text: "a = [\n  1, # one\n  2,\n  # nothing\n  \"x\",\n]", expected: "{a = [1, 2, \"x\"]}"),
    .init(name: "nested arrays", text: "a = [[1, 2], [\"a\"], []]", expected: "{a = [[1, 2], [\"a\"], []]}"),
    .init(name: "inline tables", text: "p = { x = 1, y.z = \"two\" }\nq = {}",
          expected: "{p = {x = 1, y = {z = \"two\"}}, q = {}}"),
    .init(name: "tables and sub-tables", text: "[a]\nx = 1\n[a.b]\ny = 2\n[c.d]\nz = 3",
          expected: "{a = {x = 1, b = {y = 2}}, c = {d = {z = 3}}}"),
    .init(name: "implicit table defined later", text: "[x.y.z]\na = 1\n[x]\nb = 2",
          expected: "{x = {y = {z = {a = 1}}, b = 2}}"),
    .init(name: "array of tables with sub-table of the last element",
          text: "[[t]]\nn = 1\n[[t]]\nn = 2\n[t.sub]\nk = true",
          expected: "{t = [{n = 1}, {n = 2, sub = {k = true}}]}"),
    .init(name: "sub-table under a dotted-key table", text: "[f]\napple.color = \"red\"\n[f.apple.texture]\nsmooth = true",
          expected: "{f = {apple = {color = \"red\", texture = {smooth = true}}}}"),
    .init(name: "byte-order mark", text: "\u{FEFF}a = 1", expected: "{a = 1}"),
    .init(name: "ARCHITECTURE.md example", text: architectureExample,
          expected: #"{store = {path = "/var/lib/mail/mailboxes", include = ["**/*.sqlite"]}, repository = {password_file = "/etc/drctl/repository.pass"}, target = [{name = "eu-central", url = "s3://fe-backups-eu/mailboxes", endpoint = "https://s3.eu-central-1.example.net", region = "eu-central-1", credentials_file = "/etc/drctl/eu-central.credentials"}, {name = "us-east", url = "file:///mnt/dr-us/mailboxes"}], objectives = {rpo = "24h", rto = "4h"}, retention = {keep_daily = 7, keep_weekly = 5, keep_monthly = 12}, drill = {every = "7d", sample = 10, signing_key_file = "/etc/drctl/drill-signing.key", report_dir = "/var/lib/drctl/reports"}, logs = {sources = ["/var/log/mail.log.*"], retain = "30d", ip = "prefix-preserving", key_file = "/etc/drctl/logs.key"}}"#),
]

let invalidDocuments: [InvalidDocument] = [
    .init(name: "unterminated string", text: "a = \"abc\nb = 1", line: 1, column: 9, fragment: "unterminated string"),
    .init(name: "unterminated string at EOF", text: "a = \"abc", line: 1, column: 9, fragment: "unterminated string"),
    .init(name: "unterminated multi-line string", text: "a = \"\"\"abc\n\n", line: 3, column: 1, fragment: "opened at line 1, column 5"),
    .init(name: "missing equals", text: "\n\nkey \"value\"", line: 3, column: 5, fragment: "expected = after the key key"),
    .init(name: "missing value", text: "a =\n", line: 1, column: 4, fragment: "expected a value"),
    .init(name: "unquoted string", text: "[s]\nname = eu-central", line: 2, column: 8, fragment: "strings must be quoted"),
    .init(name: "bad escape", text: #"p = "C:\Users""#, line: 1, column: 8, fragment: "invalid escape: \\U needs exactly 8"),
    .init(name: "unknown escape", text: #"p = "a\qb""#, line: 1, column: 7, fragment: "invalid escape \\q"),
    .init(name: "surrogate escape", text: #"p = "\uD800""#, line: 1, column: 6, fragment: "not a Unicode scalar value"),
    .init(name: "duplicate key", text: "a = 1\nb = 2\na = 3", line: 3, column: 1, fragment: "duplicate key a: it is already defined at line 1"),
    .init(name: "duplicate key via dotted", text: "a.b = 1\na.b = 2", line: 2, column: 3, fragment: "duplicate key a.b"),
    .init(name: "table defined twice", text: "[a]\nx = 1\n\n[a]\ny = 2", line: 4, column: 1, fragment: "table [a] is defined twice"),
    .init(name: "table over a value", text: "a = 1\n[a]", line: 2, column: 1, fragment: "already has a value (line 1)"),
    .init(name: "header over dotted-key table", text: "[f]\napple.color = 1\n[f.apple]", line: 3, column: 1, fragment: "by dotted keys"),
    .init(name: "dotted key into a header table", text: "[a.b]\nx = 1\n[a]\nb.y = 2", line: 4, column: 1, fragment: "a dotted key cannot add to table b"),
    .init(name: "array of tables over a table", text: "[t]\n[[t]]", line: 2, column: 1, fragment: "[t] is already a table"),
    .init(name: "table over array of tables", text: "[[t]]\n[t]", line: 2, column: 1, fragment: "write [[t]] to add an element"),
    .init(name: "append to static array", text: "t = []\n[[t]]", line: 2, column: 1, fragment: "a static array cannot be extended"),
    .init(name: "extend inline table", text: "a = {x = 1}\n[a]", line: 2, column: 1, fragment: "already has a value"),
    .init(name: "unclosed header", text: "[store\npath = 1", line: 1, column: 7, fragment: "expected ] to close the table header [store"),
    .init(name: "unclosed array-of-tables header", text: "[[target]\n", line: 1, column: 10, fragment: "expected ]] to close"),
    .init(name: "garbage after value", text: "a = 1 2", line: 1, column: 7, fragment: "expected the end of the line"),
    .init(name: "garbage after header", text: "[a] b", line: 1, column: 5, fragment: "after the table header"),
    .init(name: "unterminated array", text: "a = [1,\n2", line: 2, column: 2, fragment: "opened at line 1, column 5"),
    .init(name: "array missing comma", text: "a = [1 2]", line: 1, column: 8, fragment: "expected , or ]"),
    .init(name: "inline table across lines", text: "a = { x = 1,\n y = 2 }", line: 1, column: 13, fragment: "must fit on one line"),
    .init(name: "inline table trailing comma", text: "a = { x = 1, }", line: 1, column: 14, fragment: "trailing comma"),
    .init(name: "leading zero", text: "a = 007", line: 1, column: 5, fragment: "leading zeros"),
    .init(name: "double underscore", text: "a = 1__000", line: 1, column: 5, fragment: "underscore must sit between two digits"),
    .init(name: "trailing dot", text: "a = 1.", line: 1, column: 5, fragment: "after the decimal point"),
    .init(name: "leading dot", text: "a = .5", line: 1, column: 5, fragment: "expected digits"),
    .init(name: "integer overflow", text: "a = 9223372036854775808", line: 1, column: 5, fragment: "out of range"),
    .init(name: "bad date", text: "a = 1979-13-27", line: 1, column: 5, fragment: "invalid date-time"),
    .init(name: "control character in string", text: "a = \"x\u{07}y\"", line: 1, column: 7, fragment: "U+0007"),
    .init(name: "bare carriage return", text: "a = 1\rb = 2", line: 1, column: 6, fragment: "expected the end of the line"),
    .init(name: "multi-line key", text: "\"\"\"k\"\"\" = 1", line: 1, column: 1, fragment: "cannot be a key"),
    .init(name: "capitalized boolean", text: "a = True", line: 1, column: 5, fragment: "true and false are lowercase"),
    .init(name: "empty bare key", text: "= 1", line: 1, column: 1, fragment: "expected a key"),
]

@Suite("TOML parser")
struct TOMLParserTests {
    @Test("valid documents", arguments: validDocuments)
    func valid(_ document: ValidDocument) throws {
        let table = try TOML.parse(document.text, path: "t.toml")
        #expect(table.canonical == document.expected)
    }

    @Test("invalid documents: FILE:LINE:COLUMN and what is expected", arguments: invalidDocuments)
    func invalid(_ document: InvalidDocument) {
        do {
            let table = try TOML.parse(document.text, path: "bad.toml")
            Issue.record("parsed, but must fail: \(table.canonical)")
        } catch {
            let problem = error.problems.first
            #expect(error.code == .configSyntax)
            #expect(error.exitStatus == .configuration)
            #expect(problem?.line == document.line, "\(error.message)")
            #expect(problem?.column == document.column, "\(error.message)")
            #expect(error.message.hasPrefix("bad.toml:\(document.line):\(document.column): "), "\(error.message)")
            #expect(error.message.contains(document.fragment), "\(error.message)")
        }
    }

    @Test("every key and value keeps its line and column")
    func positions() throws {
        let table = try TOML.parse("# c\n[store]\n  path = \"/x\"\ninclude = [\n  \"a\",\n  \"b\"]\n[[target]]\nname = \"t\"\n",
                                   path: "p.toml")
        let store = try #require(table["store"])
        #expect(store.line == 2)
        guard case .table(let storeTable) = store.node.value else { Issue.record("not a table"); return }
        let path = try #require(storeTable["path"])
        #expect(path.line == 3)
        #expect(path.column == 3)
        #expect(path.node.column == 10)
        let include = try #require(storeTable["include"])
        guard case .array(let items) = include.node.value else { Issue.record("not an array"); return }
        #expect(items.map(\.line) == [5, 6])
        let target = try #require(table["target"])
        guard case .array(let targets) = target.node.value, case .table(let first)? = targets.first?.value else {
            Issue.record("not an array of tables"); return
        }
        #expect(first.line == 7)
        #expect(first["name"]?.line == 8)
    }

    @Test("invalid UTF-8 in a file is located like a syntax error")
    func invalidUTF8() throws {
        let path = NSTemporaryDirectory() + "drctl-utf8-\(getpid()).toml"
        defer { unlink(path) }
        let bytes: [UInt8] = Array("a = 1\nb = \"".utf8) + [0xFF] + Array("\"\n".utf8)
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        do {
            _ = try ConfigurationLoader.load(file: path)
            Issue.record("loaded a file with invalid UTF-8")
        } catch {
            #expect(error.code == .configSyntax)
            #expect(error.message.hasPrefix("\(path):2:6: invalid UTF-8"), "\(error.message)")
        }
    }
}

/// The example of the "Configuration" section of ARCHITECTURE.md, verbatim.
let architectureExample = """
[store]
path = "/var/lib/mail/mailboxes"        # every file matching include below it is a mailbox
include = ["**/*.sqlite"]

[repository]
password_file = "/etc/drctl/repository.pass"   # or: key_file = "/etc/drctl/repository.key"

[[target]]
name = "eu-central"
url = "s3://fe-backups-eu/mailboxes"           # bucket and prefix
endpoint = "https://s3.eu-central-1.example.net"
region = "eu-central-1"
credentials_file = "/etc/drctl/eu-central.credentials"  # TOML: access_key_id, secret_access_key[, session_token]

[[target]]
name = "us-east"
url = "file:///mnt/dr-us/mailboxes"

[objectives]
rpo = "24h"
rto = "4h"

[retention]
keep_daily = 7
keep_weekly = 5
keep_monthly = 12

[drill]
every = "7d"
sample = 10
signing_key_file = "/etc/drctl/drill-signing.key"
report_dir = "/var/lib/drctl/reports"

[logs]
sources = ["/var/log/mail.log.*"]
retain = "30d"
ip = "prefix-preserving"                 # or "truncate"
key_file = "/etc/drctl/logs.key"
"""

import Foundation
import Testing

/// The manual page (`drctl debug man`) and the shell completions, as scripts/systemd/install
/// puts them on a host.
@Suite("manual page and shell completions")
struct ManualPageTests {
    /// Every command `--help` shows, as "key list", from the tree ArgumentParser dumps.
    static func displayedCommands() throws -> [String] {
        struct Command: Decodable {
            var commandName: String
            var shouldDisplay: Bool?
            var subcommands: [Command]?
        }
        struct Tree: Decodable { var command: Command }
        let result = try BinaryRunner.drctl(["--experimental-dump-help"])
        try #require(result.status == 0, "dump-help failed: \(result.stderr)")
        let tree = try JSONDecoder().decode(Tree.self, from: Data(result.stdout.utf8))
        func walk(_ command: Command, _ path: [String]) -> [String] {
            (command.subcommands ?? []).filter { $0.shouldDisplay != false && $0.commandName != "help" }.flatMap { child in
                [(path + [child.commandName]).joined(separator: " ")] + walk(child, path + [child.commandName])
            }
        }
        return walk(tree.command, [])
    }

    @Test("the manual page has a section for every command, with its help, and groff reads it without a warning")
    func manualPageCoversEveryCommand() throws {
        let result = try BinaryRunner.drctl(["debug", "man"])
        #expect(result.status == 0, "\(result.stderr)")
        let page = result.stdout
        let commands = try Self.displayedCommands()
        #expect(commands.count >= 20, "the command tree looks too small: \(commands)")
        // Section headings as roff writes them, with the minus signs unescaped.
        let headings = Set(page.split(separator: "\n").filter { $0.hasPrefix(".SS ") }.map {
            $0.dropFirst(4).replacingOccurrences(of: "\\-", with: "-").trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        })
        for command in commands {
            #expect(headings.contains("drctl \(command)"), "the manual page has no section for drctl \(command)")
        }
        #expect(!headings.contains { $0.hasPrefix("drctl debug") }, "hidden commands should stay out of the page")
        // The help text is there, with examples: restore's, as --help prints it.
        #expect(page.contains("\\-\\-point\\-in\\-time"), "restore's options are missing")
        #expect(page.contains(".TH DRCTL 1"))

        let file = "\(NSTemporaryDirectory())drctl-man-\(UUID().uuidString).1"
        try page.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let rendered = try BinaryRunner.run("/usr/bin/groff", ["-man", "-Tutf8", "-ww", file])
        #expect(rendered.status == 0 && rendered.stderr.isEmpty, "groff: \(rendered.stderr)")
        #expect(rendered.stdout.contains("drctl restore"), "the rendered page lacks the restore section")
        // Hyphens stay hyphen-minus when rendered, so that options copied from the page work.
        #expect(rendered.stdout.contains("--point-in-time"), "options are not rendered with ASCII hyphens")
    }

    @Test("the bash completion script is generated, is valid bash, and completes the commands")
    func bashCompletion() throws {
        let result = try BinaryRunner.drctl(["--generate-completion-script", "bash"])
        #expect(result.status == 0, "\(result.stderr)")
        let file = "\(NSTemporaryDirectory())drctl-completion-\(UUID().uuidString).bash"
        try result.stdout.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let syntax = try BinaryRunner.run("/bin/bash", ["-n", file])
        #expect(syntax.status == 0, "bash -n: \(syntax.stderr)")
        // Completing "drctl re" offers the commands that start with it.
        let complete = """
            source '\(file)'
            COMP_WORDS=(drctl re); COMP_CWORD=1; COMP_LINE='drctl re'; COMP_POINT=${#COMP_LINE}
            complete -p drctl >/dev/null
            function=$(complete -p drctl | sed -n 's/.*-F \\([^ ]*\\).*/\\1/p')
            "$function" drctl re drctl
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        let completed = try BinaryRunner.run("/bin/bash", ["-c", complete],
                                             environment: ["PATH": "\(BinaryRunner.productsDirectory):/usr/bin:/bin"])
        #expect(completed.status == 0, "\(completed.stderr)")
        let offered = Set(completed.stdout.split(separator: "\n").map(String.init))
        #expect(offered.isSuperset(of: ["restore", "report"]), "drctl re<TAB> offered \(offered)")
    }

    @Test("scripts/systemd/install --binary installs the manual page and the bash, zsh and fish completions the binary makes")
    func installPutsThemInPlace() throws {
        let home = try TemporaryHome()
        let root = "\(home.root)/root"
        try FileManager.default.createDirectory(atPath: "\(root)/etc", withIntermediateDirectories: true)
        let result = try BinaryRunner.run("\(ProjectRoot.path)/scripts/systemd/install", ["--root", root, "--binary", Drctl.binary],
                                          environment: ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                                        "LANG": "C.UTF-8"],
                                          inheritEnvironment: false)
        try #require(result.status == 0, "install failed (\(result.status)): \(result.stderr)\n\(result.stdout)")
        let expected: [(path: String, arguments: [String])] = [
            ("/usr/local/share/man/man1/drctl.1", ["debug", "man"]),
            ("/usr/local/share/bash-completion/completions/drctl", ["--generate-completion-script", "bash"]),
            ("/usr/local/share/zsh/site-functions/_drctl", ["--generate-completion-script", "zsh"]),
            ("/usr/local/share/fish/vendor_completions.d/drctl.fish", ["--generate-completion-script", "fish"]),
        ]
        for (path, arguments) in expected {
            let made = try BinaryRunner.drctl(arguments)
            #expect(made.status == 0 && !made.stdout.isEmpty, "drctl \(arguments.joined(separator: " ")): \(made.stderr)")
            let installed = FileManager.default.contents(atPath: root + path).map { String(decoding: $0, as: UTF8.self) }
            #expect(installed == made.stdout, "\(path) is missing or is not what drctl \(arguments.joined(separator: " ")) prints")
            let mode = (try? FileManager.default.attributesOfItem(atPath: root + path)[.posixPermissions] as? Int) ?? nil
            #expect(mode == 0o644, "\(path) has mode \(String(mode ?? 0, radix: 8))")
        }
    }
}

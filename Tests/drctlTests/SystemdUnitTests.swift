import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The systemd units of scripts/systemd and their install script, checked by systemd's own
/// tools without a running systemd (none runs as PID 1 here or in CI): `systemd-analyze
/// verify` on a copy installed with `--root`, and `systemd-analyze security --offline=yes`
/// on the unit files.
@Suite("systemd units")
struct SystemdUnitTests {
    static let folder = "\(ProjectRoot.path)/scripts/systemd"
    static let analyze = "/usr/bin/systemd-analyze"
    static let units = ["drctl.service", "drctl.timer", "drctl-backup.service", "drctl-backup.timer",
                        "drctl-canary.service", "drctl-canary.timer",
                        "drctl-failure@.service"]
    /// The jobs, which `systemd-analyze security` must rate at 3.0 or lower.
    static let jobs = ["drctl.service", "drctl-backup.service", "drctl-canary.service"]

    static func requireAnalyze() throws {
        try #require(FileManager.default.isExecutableFile(atPath: analyze),
                     "\(analyze) is missing: install Debian's systemd package (scripts/setup does)")
    }

    /// A fresh folder to install into, removed with the returned home.
    static func root() throws -> (TemporaryHome, String) {
        let home = try TemporaryHome()
        let root = "\(home.root)/root"
        try FileManager.default.createDirectory(atPath: "\(root)/etc", withIntermediateDirectories: true)
        // The mail server's group, which --mail-group requires to exist.
        try "vmail:x:5000:\n".write(toFile: "\(root)/etc/group", atomically: true, encoding: .utf8)
        return (home, root)
    }

    static func install(_ arguments: [String]) throws -> RunResult {
        try BinaryRunner.run("\(folder)/install", arguments,
                             environment: ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"],
                             inheritEnvironment: false)
    }

    static let siteArguments = ["--binary", Drctl.binary, "--mail-group", "vmail", "--store", "/srv/mail",
                                "--writable", "/srv/dr-target", "--credential", "eu-s3:/etc/drctl/eu.credentials"]

    /// Every file and folder under `root` with its mode and content, to compare two runs.
    static func tree(_ root: String) throws -> [String: String] {
        var result: [String: String] = [:]
        let manager = FileManager.default
        for path in Files.all(under: root) + (manager.subpaths(atPath: root) ?? []) {
            let full = "\(root)/\(path)"
            var info = stat()
            guard lstat(full, &info) == 0 else { continue }
            let contents = (info.st_mode & S_IFMT) == S_IFREG ? (manager.contents(atPath: full)?.base64EncodedString() ?? "") : "dir"
            result[path] = String(info.st_mode, radix: 8) + " \(info.st_uid):\(info.st_gid) " + contents
        }
        return result
    }

    static func mode(_ path: String) -> Int {
        var info = stat()
        guard lstat(path, &info) == 0 else { return -1 }
        return Int(info.st_mode & 0o7777)
    }

    // MARK: - Install

    @Test("install --root creates the units, the account in the mail group, the folders with their modes; a second run changes nothing")
    func installIntoRoot() throws {
        let (home, root) = try Self.root()
        let result = try Self.install(["--root", root] + Self.siteArguments)
        try #require(result.status == 0, "install failed (\(result.status)): \(result.stderr)\n\(result.stdout)")

        let units = "\(root)/etc/systemd/system"
        for unit in Self.units {
            #expect(Self.mode("\(units)/\(unit)") == 0o644, "\(unit)")
            let shipped = try String(contentsOfFile: "\(Self.folder)/\(unit)", encoding: .utf8)
            let installed = try String(contentsOfFile: "\(units)/\(unit)", encoding: .utf8)
            // Only the store's line differs from what is shipped.
            #expect(installed == shipped.replacingOccurrences(of: "ReadWritePaths=/var/lib/mail/mailboxes\n",
                                                              with: "ReadWritePaths=/srv/mail\n"), "\(unit)")
        }
        #expect(try String(contentsOfFile: "\(units)/drctl.service", encoding: .utf8).contains("\nReadWritePaths=/srv/mail\n"))
        for unit in Self.jobs {
            let dropIn = try String(contentsOfFile: "\(units)/\(unit).d/50-site.conf", encoding: .utf8)
            #expect(dropIn.contains("[Service]\nReadWritePaths=/srv/dr-target\nLoadCredential=eu-s3:/etc/drctl/eu.credentials\n"), "\(dropIn)")
        }
        #expect(Self.mode("\(root)/usr/local/lib/drctl/on-failure") == 0o755)
        #expect(Self.mode("\(root)/usr/local/bin/drctl") == 0o755)
        #expect(Self.mode("\(root)/etc/drctl") == 0o750)
        #expect(Self.mode("\(root)/var/lib/drctl") == 0o700)
        #expect(Self.mode("\(root)/etc/drctl/on-failure.env") == 0o640)

        // A system user without a shell, in the mail server's group; its folders are its own.
        let passwd = try String(contentsOfFile: "\(root)/etc/passwd", encoding: .utf8)
        let account = try #require(passwd.split(separator: "\n").first { $0.hasPrefix("drctl:") }, "\(passwd)")
        let fields = account.split(separator: ":", omittingEmptySubsequences: false)
        #expect(fields.count == 7 && fields[5] == "/var/lib/drctl" && fields[6] == "/usr/sbin/nologin", "\(account)")
        let uid = try #require(Int(fields[2])), gid = try #require(Int(fields[3]))
        #expect(uid < 1000, "not a system user: \(account)")
        let group = try String(contentsOfFile: "\(root)/etc/group", encoding: .utf8)
        #expect(group.contains("vmail:x:5000:drctl"), "\(group)")
        if getuid() == 0 {
            var info = stat()
            #expect(lstat("\(root)/var/lib/drctl", &info) == 0 && Int(info.st_uid) == uid && Int(info.st_gid) == gid)
            #expect(lstat("\(root)/etc/drctl", &info) == 0 && info.st_uid == 0 && Int(info.st_gid) == gid)
        }
        #expect(result.stdout.contains("systemctl daemon-reload && systemctl enable --now drctl.timer"), "\(result.stdout)")

        // The key-making line it prints makes a private key file in drctl's format.
        let keyLine = try #require(result.stdout.split(separator: "\n").first { $0.contains("umask 077") }, "\(result.stdout)")
        let keyFile = "\(home.root)/repository.key"
        let made = try BinaryRunner.run("/bin/sh", ["-c", keyLine.replacingOccurrences(of: "/etc/drctl/repository.key", with: keyFile)])
        #expect(made.status == 0, "\(made.stderr)")
        #expect(Self.mode(keyFile) == 0o600)
        let key = try String(contentsOfFile: keyFile, encoding: .utf8)
        #expect(key.count == 65 && key.hasSuffix("\n") && key.dropLast().allSatisfy(\.isHexDigit), "\(key.count) characters")

        let before = try Self.tree(root)
        let again = try Self.install(["--root", root] + Self.siteArguments)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try Self.tree(root) == before, "a second install changed files")
    }

    @Test("install --dry-run prints what it would do and changes nothing; a group that does not exist is refused")
    func installDryRun() throws {
        let (home, root) = try Self.root()
        _ = home
        let before = try Self.tree(root)
        let result = try Self.install(["--dry-run", "--root", root] + Self.siteArguments)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("+ install -m 0644 "), "\(result.stdout)")
        #expect(result.stdout.contains("\(root)/etc/systemd/system/drctl.service"), "\(result.stdout)")
        #expect(result.stdout.contains("+ systemd-sysusers --root=\(root) drctl.conf"), "\(result.stdout)")
        #expect(try Self.tree(root) == before, "--dry-run changed files")

        let noGroup = try Self.install(["--dry-run", "--root", root, "--mail-group", "nosuchgroup"])
        #expect(noGroup.status != 0)
        #expect(noGroup.stderr.contains("--mail-group nosuchgroup: no such group"), "\(noGroup.stderr)")
        let relative = try Self.install(["--dry-run", "--root", root, "--store", "srv/mail"])
        #expect(relative.status == 64, "\(relative.stderr)")
    }

    // MARK: - systemd-analyze

    @Test("systemd-analyze verify accepts every unit, installed with --root, without a word")
    func verify() throws {
        try Self.requireAnalyze()
        let (home, root) = try Self.root()
        _ = home
        let result = try Self.install(["--root", root] + Self.siteArguments)
        try #require(result.status == 0, "install failed: \(result.stderr)")
        // verify needs the system's own units (sysinit.target, …) and every program a unit
        // starts, inside the root: copies of them, as an image would have them.
        try FileManager.default.createDirectory(atPath: "\(root)/usr/lib/systemd", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/usr/lib/systemd/system", toPath: "\(root)/usr/lib/systemd/system")
        try FileManager.default.createDirectory(atPath: "\(root)/usr/bin", withIntermediateDirectories: true)
        for program in ["flock", "true"] {
            try FileManager.default.copyItem(atPath: "/usr/bin/\(program)", toPath: "\(root)/usr/bin/\(program)")
        }

        let names = Self.units.map { $0 == "drctl-failure@.service" ? "drctl-failure@drctl.service.service" : $0 }
        for name in names {
            let verified = try BinaryRunner.run(Self.analyze, ["verify", "--root=\(root)", name])
            #expect(verified.status == 0 && verified.stdout.isEmpty && verified.stderr.isEmpty,
                    "systemd-analyze verify \(name): exit \(verified.status)\n\(verified.stdout)\(verified.stderr)")
        }

        // The same check speaks up about a mistake, so its silence above means something.
        let unit = "\(root)/etc/systemd/system/drctl.service"
        try (try String(contentsOfFile: unit, encoding: .utf8) + "ProtectSystm=strict\n").write(toFile: unit, atomically: true, encoding: .utf8)
        let flawed = try BinaryRunner.run(Self.analyze, ["verify", "--root=\(root)", "drctl.service"])
        #expect(flawed.stderr.contains("Unknown key 'ProtectSystm'"), "\(flawed.stderr)")
    }

    /// "→ Overall exposure level for drctl.service: 1.2 OK 🙂" → 1.2
    static func exposure(of path: String) throws -> Double {
        let result = try BinaryRunner.run(analyze, ["security", "--offline=yes", "--no-pager", path])
        try #require(result.status == 0, "systemd-analyze security \(path): \(result.stderr)")
        let line = try #require(result.stdout.split(separator: "\n").first { $0.contains("Overall exposure level for") },
                                "no overall exposure in:\n\(result.stdout)")
        let afterColon = try #require(line.split(separator: ":").last)
        let number = try #require(afterColon.split(separator: " ").first.flatMap { Double($0) }, "\(line)")
        return number
    }

    @Test("systemd-analyze security --offline=yes rates each job at 3.0 or lower (a plain unit: over 9)")
    func security() throws {
        try Self.requireAnalyze()
        for job in Self.jobs {
            let score = try Self.exposure(of: "\(Self.folder)/\(job)")
            print("systemd-analyze security --offline=yes scripts/systemd/\(job): \(score)")
            #expect(score <= 3.0, "\(job) is rated \(score), above 3.0: see docs/SECURITY.md, \"systemd units\"")
        }
        // The measure itself: the same command on a unit without any hardening.
        let home = try TemporaryHome()
        let plain = "\(home.root)/plain.service"
        try "[Service]\nExecStart=/usr/local/bin/drctl run\n".write(toFile: plain, atomically: true, encoding: .utf8)
        #expect(try Self.exposure(of: plain) > 9.0)
    }

    @Test("the two jobs share one sandbox: their [Service] sections differ only in what they run and how it ends")
    func sameSandbox() throws {
        func settings(_ unit: String) throws -> [String] {
            let text = try String(contentsOfFile: "\(Self.folder)/\(unit)", encoding: .utf8)
            let service = try #require(text.components(separatedBy: "\n[Service]\n").last)
            return service.split(separator: "\n").map(String.init)
                .filter { !$0.hasPrefix("#") && !$0.hasPrefix("ExecStart=") && !$0.hasPrefix("ExecCondition=")
                    && !$0.hasPrefix("SuccessExitStatus=") }
        }
        let nightly = try settings("drctl.service")
        #expect(nightly.contains("ProtectSystem=strict") && nightly.contains("LoadCredential=repository-key:/etc/drctl/repository.key"))
        #expect(try settings("drctl-backup.service") == nightly)
        #expect(try settings("drctl-canary.service") == nightly)
    }

    // MARK: - The failure report

    @Test("on-failure writes one line at priority err naming the unit and the status, then runs ON_FAILURE_COMMAND")
    func onFailure() throws {
        let home = try TemporaryHome()
        let marker = "\(home.root)/ran"
        let script = "\(Self.folder)/on-failure"
        let environment = ["PATH": "/usr/bin:/bin", "MONITOR_SERVICE_RESULT": "exit-code", "MONITOR_EXIT_STATUS": "2",
                           "ON_FAILURE_COMMAND": "printf '%s %s' \"$DRCTL_FAILED_UNIT\" \"$MONITOR_EXIT_STATUS\" > \(marker)"]
        let result = try BinaryRunner.run(script, ["drctl.service"], environment: environment, inheritEnvironment: false)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stdout)")
        #expect(result.stdout.hasPrefix("<3>drctl.service failed (result exit-code, exit status 2 (degraded: "), "\(result.stdout)")
        #expect(result.stdout.contains("journalctl -u drctl.service"), "\(result.stdout)")
        #expect(try String(contentsOfFile: marker, encoding: .utf8) == "drctl.service 2")

        // A command that fails is reported too, and fails the failure unit.
        var failing = environment
        failing["ON_FAILURE_COMMAND"] = "exit 7"
        let failed = try BinaryRunner.run(script, ["drctl-backup.service"], environment: failing, inheritEnvironment: false)
        #expect(failed.status == 7)
        #expect(failed.stdout.contains("<3>ON_FAILURE_COMMAND (from /etc/drctl/on-failure.env) exited with status 7 after drctl-backup.service failed"),
                "\(failed.stdout)")

        // Without a command: the journal line alone.
        let quiet = try BinaryRunner.run(script, ["drctl.service"], environment: ["PATH": "/usr/bin:/bin"], inheritEnvironment: false)
        #expect(quiet.status == 0 && quiet.stdout == "<3>drctl.service failed (result unknown); see why with: journalctl -u drctl.service -n 100, and: drctl status\n",
                "\(quiet.stdout)")
    }
}

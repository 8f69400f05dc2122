import Foundation
import Testing

/// Damaged or hostile input: each case gets a clear error that names the file, the documented
/// exit status, and the mailbox is left exactly as it was.
@Suite("Snapshot bad input", .serialized)
struct ImageBadInputTests {
    /// Runs drctl image expecting failure; checks exit status, code-bearing message naming
    /// `names`, no output file, and an unmodified mailbox.
    func expectFailure(_ workspace: ImageWorkspace, _ database: String, status: Int32,
                       mentioning fragments: [String], names: String) throws {
        let before = workspace.mailboxFiles(database)
        let image = workspace.path("image-\(UUID().uuidString).db")
        let result = try BinaryRunner.drctl(["image", database, "--to", image, "--retry-timeout-ms", "500"])
        #expect(result.status == status, "exit \(result.status), stderr: \(result.stderr)")
        #expect(result.stderr.contains(names), "the message does not name \(names): \(result.stderr)")
        for fragment in fragments {
            #expect(result.stderr.contains(fragment), "expected '\(fragment)' in: \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: image), "a failed snapshot left an output file")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: workspace.directory).filter { $0.hasPrefix(".tmp-") }
        #expect(leftovers.isEmpty, "temporary files left: \(leftovers)")
        #expect(workspace.mailboxFiles(database) == before, "the mailbox was modified")
    }

    @Test("a truncated database is refused")
    func truncatedDatabase() throws {
        let workspace = try ImageWorkspace()
        // Cut mid-page (an encrypted WAL mailbox, nobody connected).
        let chacha = try workspace.createMailbox(MailboxKind(cipher: .chacha20, journal: .wal))
        let size = try #require(workspace.contents(chacha)).count
        #expect(truncate(chacha, off_t(size - 1000)) == 0)
        try expectFailure(workspace, chacha, status: 65, mentioning: ["truncated", "whole number"], names: chacha)
        // Cut on a page boundary: only the plaintext header's page count can tell.
        let plain = try workspace.createMailbox(MailboxKind(cipher: .none, journal: .delete))
        let plainSize = try #require(workspace.contents(plain)).count
        #expect(truncate(plain, off_t(plainSize / 2 / 4096 * 4096)) == 0)
        try expectFailure(workspace, plain, status: 65, mentioning: ["truncated", "header records"], names: plain)
    }

    /// A connected writer that committed `transactions` without checkpointing, then idles with
    /// its connection (and the -shm dead-man-switch lock) open.
    func holdingWriter(_ workspace: ImageWorkspace, _ database: String, _ cipher: Cipher) throws -> RunningProcess {
        let holder = try workspace.startWriter(database, cipher: cipher,
                                               extra: ["--max-transactions", "15", "--checkpoint-every", "0",
                                                       "--autocheckpoint", "0", "--hold"])
        try #require(holder.waitForOutput(containing: "HOLDING", seconds: 60), "the writer did not start")
        return holder
    }

    /// Flips one byte inside the page data of WAL frame `frame` (1-based).
    func corruptWalFrame(_ walPath: String, frame: Int) throws {
        var wal = try #require(FileManager.default.contents(atPath: walPath))
        let pageSize = Int(wal[8]) << 24 | Int(wal[9]) << 16 | Int(wal[10]) << 8 | Int(wal[11])
        let offset = 32 + (frame - 1) * (24 + pageSize) + 24 + 100
        try #require(offset < wal.count, "the WAL has fewer than \(frame) frames")
        wal[offset] ^= 0x5a
        try wal.write(to: URL(fileURLWithPath: walPath))
    }

    @Test("a WAL with a broken checksum chain is refused (live and offline)")
    func brokenChecksumChain() throws {
        let workspace = try ImageWorkspace()
        let kind = MailboxKind(cipher: .chacha20, journal: .wal)
        let live = try workspace.createMailbox(kind, name: "live")
        let holder = try holdingWriter(workspace, live, .chacha20)
        defer { holder.signal(SIGKILL); _ = holder.wait() }
        try corruptWalFrame(live + "-wal", frame: 3)
        try expectFailure(workspace, live, status: 65, mentioning: ["checksum"], names: live + "-wal")

        // Offline: the writer died; a broken frame followed by committed frames must not be
        // silently dropped the way a crash's torn tail is.
        let offline = try workspace.createMailbox(kind, name: "offline")
        let crashed = try holdingWriter(workspace, offline, .chacha20)
        crashed.signal(SIGKILL)
        _ = crashed.wait()
        try corruptWalFrame(offline + "-wal", frame: 3)
        try expectFailure(workspace, offline, status: 65, mentioning: ["checksum", "committed transactions would be lost"],
                          names: offline + "-wal")
    }

    @Test("a -shm that lies about the WAL is refused")
    func lyingShm() throws {
        let workspace = try ImageWorkspace()
        let database = try workspace.createMailbox(MailboxKind(cipher: .sqlcipher, journal: .wal))
        let holder = try holdingWriter(workspace, database, .sqlcipher)
        defer { holder.signal(SIGKILL); _ = holder.wait() }
        // Rewrite both header copies with mxFrame moved on, and a valid header checksum.
        let script = """
            import struct, sys
            path, delta = sys.argv[1], int(sys.argv[2])
            with open(path, 'r+b') as f:
                h = bytearray(f.read(48))
                struct.pack_into('<I', h, 16, struct.unpack_from('<I', h, 16)[0] + delta)
                s1 = s2 = 0
                for i in range(0, 40, 8):
                    x0, x1 = struct.unpack_from('<II', h, i)
                    s1 = (s1 + x0 + s2) & 0xffffffff
                    s2 = (s2 + x1 + s1) & 0xffffffff
                struct.pack_into('<II', h, 40, s1, s2)
                f.seek(0); f.write(h); f.write(h)
            """
        let edit = try BinaryRunner.run("python3", ["-c", script, database + "-shm", "500"])
        try #require(edit.status == 0, "\(edit.stderr)")
        try expectFailure(workspace, database, status: 65, mentioning: ["wal-index", "does not match"],
                          names: database + "-shm")
        // A lie inside the WAL: mxFrame moved back to a frame that is not a commit frame.
        let back = try BinaryRunner.run("python3", ["-c", script, database + "-shm", "-501"])
        try #require(back.status == 0, "\(back.stderr)")
        try expectFailure(workspace, database, status: 65, mentioning: ["not a commit frame"], names: database)
    }

    /// Streams a snapshot to a pipe, removes the source once drctl is blocked writing, drains.
    func snapshotWhileRemoving(_ path: String) throws -> (status: Int32, stderr: String, bytes: Int) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: BinaryRunner.drctlPath)
        process.arguments = ["image", path, "--to", "-"]
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let first = out.fileHandleForReading.readData(ofLength: 1)
        #expect(unlink(path) == 0)
        let rest = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, message, first.count + rest.count)
    }

    @Test("a file that vanishes mid-copy gives a clear error")
    func vanishingFile() throws {
        let workspace = try ImageWorkspace()
        // Not SQLite: 8 MiB of text, far more than a pipe holds.
        let text = workspace.path("mail.log")
        let line = "Nov 29 12:00:00 mx1 postfix/smtpd[1234]: connect from unknown[192.0.2.1]\n"
        try Data(String(repeating: line, count: 8 * 1024 * 1024 / line.utf8.count).utf8)
            .write(to: URL(fileURLWithPath: text))
        let other = try snapshotWhileRemoving(text)
        #expect(other.status == 66, "exit \(other.status): \(other.stderr)")
        #expect(other.stderr.contains(text) && other.stderr.contains("removed or renamed"), "\(other.stderr)")

        // A rollback-mode mailbox bigger than one write.
        let database = try workspace.createMailbox(MailboxKind(cipher: .none, journal: .delete), messages: 1500)
        let sqlite = try snapshotWhileRemoving(database)
        #expect(sqlite.status == 66, "exit \(sqlite.status): \(sqlite.stderr)")
        #expect(sqlite.stderr.contains(database) && sqlite.stderr.contains("removed or renamed"), "\(sqlite.stderr)")
    }

    @Test("no read permission gives a clear error")
    func noReadPermission() throws {
        let workspace = try ImageWorkspace()
        let database = try workspace.createMailbox(MailboxKind(cipher: .chacha20, journal: .delete))
        #expect(chmod(database, 0) == 0)
        let outDir = workspace.path("out")
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o777])
        let before = workspace.mailboxFiles(database)
        var arguments = ["image", database, "--to", outDir + "/image.db"]
        let result: RunResult
        if geteuid() == 0 {
            // root reads anything: run drctl as nobody, as an unprivileged operator would be.
            arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", BinaryRunner.drctlPath] + arguments
            result = try BinaryRunner.run("/usr/bin/setpriv", arguments)
        } else {
            result = try BinaryRunner.drctl(arguments)
        }
        #expect(result.status == 77, "exit \(result.status): \(result.stderr)")
        #expect(result.stderr.contains(database) && result.stderr.contains("Permission denied"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: outDir + "/image.db"))
        _ = chmod(database, 0o644)
        #expect(workspace.mailboxFiles(database) == before)
    }

    @Test("a file that is not SQLite is copied exactly, and an existing output is not replaced")
    func otherFileAndExistingOutput() throws {
        let workspace = try ImageWorkspace()
        let text = workspace.path("sieve.txt")
        let content = Data(String(repeating: "require [\"fileinto\"];\nif header :contains \"subject\" \"x\" { fileinto \"Junk\"; }\n", count: 3000).utf8)
        try content.write(to: URL(fileURLWithPath: text))
        let image = workspace.path("copy.txt")
        let (result, report) = try workspace.snapshot(text, to: image)
        try #require(result.status == 0, "\(result.stderr)")
        #expect(report?["mode"] as? String == "not-sqlite")
        #expect(workspace.contents(image) == content)
        let again = try BinaryRunner.drctl(["image", text, "--to", image])
        #expect(again.status == 73, "\(again.stderr)")
        #expect(again.stderr.contains(image))
    }
}

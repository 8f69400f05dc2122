import Foundation
import Testing

/// Paths typed on the command line mean what they mean in a shell: relative to the working
/// folder, never to /.
@Suite("command-line paths (end to end)")
struct CommandLinePathTests {
    @Test("a relative --new-key-file is created in the working folder, and a relative --key-file opens with it")
    func relativeKeyFiles() throws {
        let home = try TemporaryHome()
        let initialized = try home.drctl(["init"])
        try #require(initialized.status == 0, "init failed: \(initialized.stderr)")
        let folder = "rel-\(UUID().uuidString.prefix(8))"
        let added = try home.drctl(["key", "add", "--new-key-file", "\(folder)/second.key"])
        #expect(added.status == 0, "key add failed: \(added.stderr)")
        let created = "\(home.root)/\(folder)/second.key"
        #expect(FileManager.default.fileExists(atPath: created), "not created in the working folder")
        #expect(!FileManager.default.fileExists(atPath: "/\(folder)"), "created under / instead")
        let mode = try FileManager.default.attributesOfItem(atPath: created)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect((added.stdout + added.stderr).contains(created), "the message does not name the absolute path")

        let listed = try home.drctl(["key", "list", "--key-file", "\(folder)/second.key"])
        #expect(listed.status == 0, "the relative --key-file did not open the repository: \(listed.stderr)")
        #expect(listed.stdout.split(separator: "\n").filter { $0.hasPrefix("*") }.count == 1)
        try? FileManager.default.removeItem(atPath: "/\(folder)")
    }
}

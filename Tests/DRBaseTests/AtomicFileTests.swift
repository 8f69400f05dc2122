import DRBase
import Foundation
import Testing

/// A fresh folder under the system's temporary folder, removed afterwards.
final class ScratchFolder {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("drctl-base-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func contents(_ name: String) -> [UInt8]? {
        FileManager.default.contents(atPath: "\(path)/\(name)").map(Array.init)
    }

    /// Names in `folder` (relative to this one), hidden ones included.
    func names(in folder: String = "") throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.isEmpty ? path : "\(path)/\(folder)").sorted()
    }

    func mode(_ name: String) -> mode_t? {
        var info = stat()
        return stat("\(path)/\(name)", &info) == 0 ? info.st_mode & 0o7777 : nil
    }
}

@Suite("AtomicFile", .serialized)  // umask and the working folder are per process
struct AtomicFileTests {
    @Test("write-once creates the file; a second write-once is refused with file.exists and leaves the first intact")
    func writeOnce() throws {
        let scratch = try ScratchFolder()
        let path = "\(scratch.path)/config"
        try AtomicFile.write(Array("first".utf8), to: path, mode: 0o600, .writeOnce)
        #expect(scratch.contents("config") == Array("first".utf8))

        let error = #expect(throws: BaseError.self) {
            try AtomicFile.write(Array("second".utf8), to: path, mode: 0o600, .writeOnce)
        }
        #expect(error?.code == .fileExists)
        #expect(error?.exitStatus == .cannotCreate)
        #expect(error?.message.contains(path) == true)
        #expect(scratch.contents("config") == Array("first".utf8), "the existing file was changed")
        #expect(try scratch.names() == ["config"], "a temporary file was left behind")
    }

    @Test("write-once refuses a dangling symbolic link and does not write through it")
    func writeOnceSymbolicLink() throws {
        let scratch = try ScratchFolder()
        let aim = "\(scratch.path)/aim"
        #expect(symlink(aim, "\(scratch.path)/key") == 0)
        let error = #expect(throws: BaseError.self) {
            try AtomicFile.write([1, 2, 3], to: "\(scratch.path)/key", mode: 0o600, .writeOnce)
        }
        #expect(error?.code == .fileExists)
        #expect(!FileManager.default.fileExists(atPath: aim), "written through the link")
        #expect(try scratch.names() == ["key"])
    }

    @Test("replace puts the new content in place of the old")
    func replace() throws {
        let scratch = try ScratchFolder()
        let path = "\(scratch.path)/object"
        try AtomicFile.write(Array("old contents, longer".utf8), to: path, mode: 0o600, .replace)
        try AtomicFile.write(Array("new".utf8), to: path, mode: 0o600, .replace)
        #expect(scratch.contents("object") == Array("new".utf8))
        #expect(try scratch.names() == ["object"])
    }

    @Test("streaming: the file is invisible until commit, the temporary file is beside it and gone afterwards")
    func streaming() throws {
        let scratch = try ScratchFolder()
        let path = "\(scratch.path)/image"
        let file = try AtomicFile(path: path, mode: 0o600)
        #expect(file.temporaryPath.hasPrefix("\(scratch.path)/.tmp-"))
        try file.write(Array(repeating: 1, count: 3000))
        try file.write([2, 3])
        #expect(file.size == 3002)
        #expect(try scratch.names().count == 1 && !FileManager.default.fileExists(atPath: path))
        try file.commit(.writeOnce)
        #expect(scratch.contents("image") == Array(repeating: 1, count: 3000) + [2, 3])
        #expect(try scratch.names() == ["image"], "the temporary file outlived the commit")
    }

    @Test("a direct write the file system refuses (EINVAL) goes through the page cache instead, staged or from the caller's aligned buffer")
    func directWriteRefused() throws {
        let scratch = try ScratchFolder()
        let pattern = (0..<(5 << 20) + 123).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 12) }
        // Staged: the first 4 MiB piece is refused, then everything goes through the page cache.
        let staged = try AtomicFile(path: "\(scratch.path)/staged", mode: 0o600, bulk: true)
        try #require(staged.writesDirectly, "the temporary folder's file system does no direct I/O (tmpfs?): this test needs a disk-backed TMPDIR")
        staged.refusesDirectWritesForTesting = true
        try staged.write(Array(pattern[..<1000]))
        try staged.write(Array(pattern[1000...]))
        #expect(!staged.writesDirectly, "the refusal did not turn direct I/O off")
        try staged.commit(.writeOnce)
        #expect(scratch.contents("staged") == pattern)

        // The caller's 4 KiB-aligned whole blocks (a backup's pack pieces), then a tail.
        let aligned = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 4096)
        defer { aligned.deallocate() }
        aligned.copyBytes(from: pattern[..<(4 << 20)])
        let direct = try AtomicFile(path: "\(scratch.path)/direct", mode: 0o600, bulk: true)
        try #require(direct.writesDirectly)
        direct.refusesDirectWritesForTesting = true
        try direct.write(UnsafeRawBufferPointer(aligned))
        #expect(!direct.writesDirectly)
        try direct.write(Array(pattern[(4 << 20)...]))
        try direct.commit(.writeOnce)
        #expect(scratch.contents("direct") == pattern)
    }

    @Test("restart empties the temporary file")
    func restart() throws {
        let scratch = try ScratchFolder()
        let file = try AtomicFile(path: "\(scratch.path)/image", mode: 0o600)
        try file.write(Array("a first attempt".utf8))
        try file.restart()
        #expect(file.size == 0)
        try file.write(Array("second".utf8))
        try file.commit(.replace)
        #expect(scratch.contents("image") == Array("second".utf8))
    }

    @Test("abandon, and dropping an uncommitted file, remove the temporary file and touch nothing else")
    func abandon() throws {
        let scratch = try ScratchFolder()
        let path = "\(scratch.path)/kept"
        try AtomicFile.write(Array("original".utf8), to: path, mode: 0o600, .writeOnce)

        let file = try AtomicFile(path: path, mode: 0o600)
        try file.write(Array("replacement".utf8))
        #expect(try scratch.names().count == 2)
        file.abandon()
        file.abandon()  // idempotent
        #expect(try scratch.names() == ["kept"])
        #expect(scratch.contents("kept") == Array("original".utf8))

        do {
            let dropped = try AtomicFile(path: path, mode: 0o600)
            try dropped.write([9])
            #expect(try scratch.names().count == 2)
        }
        #expect(try scratch.names() == ["kept"], "deinit left the temporary file")
        #expect(scratch.contents("kept") == Array("original".utf8))
    }

    @Test("a failed commit removes the temporary file")
    func failedCommit() throws {
        let scratch = try ScratchFolder()
        let path = "\(scratch.path)/taken"
        try AtomicFile.write([1], to: path, mode: 0o600, .writeOnce)
        let file = try AtomicFile(path: path, mode: 0o600)
        try file.write([2])
        #expect(throws: BaseError.self) { try file.commit(.writeOnce) }
        #expect(try scratch.names() == ["taken"])
    }

    @Test("the mode is applied exactly, whatever the umask", arguments: [0o600, 0o640, 0o755, 0o444] as [mode_t])
    func mode(_ mode: mode_t) throws {
        let scratch = try ScratchFolder()
        let old = umask(0o077)
        defer { umask(old) }
        try AtomicFile.write([1], to: "\(scratch.path)/file", mode: mode, .replace)
        #expect(scratch.mode("file") == mode)
    }

    @Test("missing parent folders are created with the given mode; without a folder mode they are not")
    func parents() throws {
        let scratch = try ScratchFolder()
        let old = umask(0)
        defer { umask(old) }
        try AtomicFile.write([7], to: "\(scratch.path)/a/b/c/file", mode: 0o600, .writeOnce, creatingFoldersWithMode: 0o710)
        #expect(scratch.contents("a/b/c/file") == [7])
        for folder in ["a", "a/b", "a/b/c"] { #expect(scratch.mode(folder) == 0o710, "\(folder)") }
        #expect(try scratch.names(in: "a/b/c") == ["file"])

        let error = #expect(throws: BaseError.self) {
            try AtomicFile.write([7], to: "\(scratch.path)/x/file", mode: 0o600, .writeOnce)
        }
        #expect(error?.code == .fileIo)
        #expect(error?.message.contains("No such file or directory") == true, "\(error?.message ?? "")")
        #expect(!FileManager.default.fileExists(atPath: "\(scratch.path)/x"))
    }

    @Test("a parent that is a file is reported as such")
    func parentIsFile() throws {
        let scratch = try ScratchFolder()
        try AtomicFile.write([1], to: "\(scratch.path)/plain", mode: 0o600, .writeOnce)
        let error = #expect(throws: BaseError.self) {
            try AtomicFile.write([7], to: "\(scratch.path)/plain/sub/file", mode: 0o600, .writeOnce, creatingFoldersWithMode: 0o700)
        }
        #expect(error?.message.contains("Not a directory") == true, "\(error?.message ?? "")")
    }

    @Test("a bare name is written in the working folder")
    func relative() throws {
        let scratch = try ScratchFolder()
        let previous = FileManager.default.currentDirectoryPath
        #expect(chdir(scratch.path) == 0)
        defer { _ = chdir(previous) }
        try AtomicFile.write([5], to: "bare", mode: 0o600, .writeOnce)
        try AtomicFile.write([6], to: "sub/deeper", mode: 0o600, .writeOnce, creatingFoldersWithMode: 0o700)
        #expect(scratch.contents("bare") == [5])
        #expect(scratch.contents("sub/deeper") == [6])
        #expect(try scratch.names() == ["bare", "sub"])
    }
}

@Suite("Folders")
struct FoldersTests {
    @Test("parent(of:)")
    func parent() {
        #expect(Folders.parent(of: "/a/b/c") == "/a/b")
        #expect(Folders.parent(of: "/x") == "/")
        #expect(Folders.parent(of: "name") == ".")
        #expect(Folders.parent(of: "rel/name") == "rel")
    }

    @Test("create makes every missing component and accepts existing folders")
    func create() throws {
        let scratch = try ScratchFolder()
        #expect(Folders.create("\(scratch.path)/one/two") == 0)
        #expect(Folders.create("\(scratch.path)/one/two") == 0)
        #expect(Folders.create("\(scratch.path)/one//three/") == 0)
        #expect(try scratch.names(in: "one") == ["three", "two"])
        #expect(scratch.mode("one") == 0o700)
    }
}

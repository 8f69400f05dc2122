import ArgumentParser
import DRBase
import DRImage
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `drctl image MAILBOX --to FILE`: one consistent, self-contained image of a live mailbox,
/// made without its key.
///
/// "Image" is the one-file copy (DRImage makes it); "snapshot" is a backup record in the
/// repository (`drctl snapshots`, `restore --snapshot`). The two were one word before.
struct Image: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a consistent image of a live (encrypted) SQLite mailbox, without its key.",
        discussion: """
            The image is the database with its committed WAL applied (or a crashed writer's hot \
            journal rolled back in the copy), ready to open with the mailbox's key. The mailbox \
            is never written; in WAL mode drctl places a read mark in its -shm as any reader does. \
            The report names the mode (wal-live, wal-offline, rollback, not-sqlite), the page \
            size and count, and the consistency point. See docs/IMAGE.md.

            Needs neither the configuration nor a repository secret: --config, --password-file \
            and --key-file are ignored; --quiet leaves out the report (never the copy).
            """)

    @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

    @Argument(help: ArgumentHelp("The mailbox database file.", valueName: "mailbox"))
    var mailbox: String

    @Option(name: .long, help: ArgumentHelp("Where to write the copy (mode 0600); - for standard output.", valueName: "file"))
    var to: String

    @Flag(name: .long, help: "Replace the output file if it exists.")
    var force = false

    @Option(name: .long, help: ArgumentHelp("Page size to assume when neither the header nor a WAL tells (SQLCipher in rollback mode; default 1024).", valueName: "bytes"))
    var pageSize: Int?

    @Option(name: .long, help: ArgumentHelp("Longest time to hold SQLite's SHARED lock in rollback mode, blocking writers.", valueName: "ms"))
    var maxLockHoldMs = 10_000

    @Option(name: .long, help: ArgumentHelp("How long to keep retrying while writers hold locks or the file changes.", valueName: "ms"))
    var retryTimeoutMs = 10_000

    func validate() throws {
        if let pageSize, pageSize < 512 || pageSize > 65536 || pageSize & (pageSize - 1) != 0 {
            throw ValidationError("--page-size must be a power of two from 512 to 65536")
        }
        if maxLockHoldMs < 1 || retryTimeoutMs < 0 {
            throw ValidationError("--max-lock-hold-ms must be positive and --retry-timeout-ms not negative")
        }
        if to.isEmpty {
            throw ValidationError("--to needs a file name (or - for standard output)")
        }
    }

    func run() throws {
        var options = ImageOptions()
        options.pageSize = pageSize
        options.maxSharedLockMilliseconds = maxLockHoldMs
        options.retryTimeoutMilliseconds = retryTimeoutMs
        let toStandardOutput = to == "-"
        if toStandardOutput {
            options.stabilityAttempts = 1
        }
        let output = try ImageOutput(path: to, mailbox: mailbox, force: force)
        let started = monotonicMilliseconds()
        let metadata: ImageMetadata
        do {
            metadata = try ImageCapture.withConsistentImage(of: mailbox, options: options) {
                (reader) throws -> ImageMetadata in
                try output.restart()
                var buffer = [UInt8](repeating: 0, count: max(reader.metadata.pageSize, 1 << 20))
                while true {
                    let count = try buffer.withUnsafeMutableBytes { raw in
                        Result { () throws(ImageError) -> Int in try reader.read(into: raw) }
                    }.get()
                    if count == 0 { break }
                    try output.write(buffer, count: count)
                }
                return reader.metadata
            }
            try output.commit()
        } catch {
            output.discard()
            throw error
        }
        let elapsed = monotonicMilliseconds() - started
        report(metadata, elapsedMilliseconds: elapsed, toStandardOutput: toStandardOutput)
    }

    private func report(_ meta: ImageMetadata, elapsedMilliseconds: Int64, toStandardOutput: Bool) {
        if global.quiet && !global.json { return }
        let text: String
        if global.json {
            let report = ImageReport(
                mailbox: meta.path, output: to, mode: meta.mode.rawValue, cipher: meta.cipher.rawValue,
                pageSize: meta.pageSize, pageSizeSource: meta.pageSizeSource, pageCount: meta.pageCount,
                imageSize: meta.imageSize, reservedBytes: meta.reservedBytes, overlaidPages: meta.overlaidPages,
                consistency: .init(point: meta.consistency), elapsedMilliseconds: elapsedMilliseconds)
            text = (try? Output.jsonText(report)) ?? "{}\n"
        } else {
            var lines = [
                "snapshot of \(meta.path) written to \(toStandardOutput ? "standard output" : to)",
                "  mode: \(meta.mode.rawValue)",
                "  cipher (by header shape): \(meta.cipher.rawValue)",
                "  page size: \(meta.pageSize) (from \(meta.pageSizeSource))",
                "  pages: \(meta.pageCount) (\(meta.imageSize) bytes, \(meta.overlaidPages) from the \(meta.consistency.hotJournalApplied ? "hot journal" : "WAL"))",
                "  consistency point: \(meta.consistency.summary)",
                "  took: \(elapsedMilliseconds) ms",
            ]
            if let reserved = meta.reservedBytes { lines.insert("  reserved bytes per page: \(reserved)", at: 4) }
            text = lines.joined(separator: "\n") + "\n"
        }
        if toStandardOutput && !global.json && !StandardStreams.errorIsTerminal {
            // Standard error is the log (a unit's journal, a pipe): each line an event with its
            // priority, like every other line there.
            let logger = global.logger
            for line in text.split(separator: "\n") { logger.info("\(line)") }
        } else if toStandardOutput {
            // A person at a terminal reads the report as it is; a --json reader gets the one
            // document it asked for, unprefixed (the image itself is on standard output).
            StandardStreams.writeError(text)
        } else {
            StandardStreams.writeOutput(text)
        }
    }
}

private func monotonicMilliseconds() -> Int64 { MonotonicClock.milliseconds() }

/// What `drctl image --json` prints.
private struct ImageReport: Encodable {
    struct Consistency: Encodable {
        var summary: String
        var hotJournalApplied: Bool
        var walFrame: UInt32?
        var walSalt1: UInt32?
        var walSalt2: UInt32?
        var checkpointSequence: UInt32?
        var changeCounter: UInt32?
        var fileSize: Int64?
        var modificationTimeNanoseconds: Int64?

        init(point: ConsistencyPoint) {
            summary = point.summary
            hotJournalApplied = point.hotJournalApplied
            walFrame = point.walFrame
            walSalt1 = point.walSalt1
            walSalt2 = point.walSalt2
            checkpointSequence = point.checkpointSequence
            changeCounter = point.changeCounter
            fileSize = point.fileSize
            modificationTimeNanoseconds = point.modificationTimeNanoseconds
        }
    }
    var mailbox: String
    var output: String
    var mode: String
    var cipher: String
    var pageSize: Int
    var pageSizeSource: String
    var pageCount: Int
    var imageSize: Int64
    var reservedBytes: Int?
    var overlaidPages: Int
    var consistency: Consistency
    var elapsedMilliseconds: Int64
}

/// The destination of `drctl image`: an `AtomicFile` (mode 0600) published once the image
/// is complete, so a failed snapshot never leaves a torn copy under the final name — without
/// --force it is published write-once, so a file that appears meanwhile is never replaced —
/// or standard output.
private final class ImageOutput {
    let path: String
    /// nil for standard output.
    private let file: AtomicFile?
    private var writtenToStandardOutput: Int64 = 0
    let force: Bool

    init(path: String, mailbox: String, force: Bool) throws(ImageError) {
        self.path = path
        self.force = force
        if path == "-" {
            file = nil
            return
        }
        var target = stat()
        var source = stat()
        if stat(path, &target) == 0 {
            if stat(mailbox, &source) == 0 && source.st_dev == target.st_dev && source.st_ino == target.st_ino {
                throw ImageError(.imageOutputIsInput, message: "\(path) is the mailbox itself; choose another output file")
            }
            if !force {
                throw ImageError(.imageOutputExists, message: "\(path) already exists; choose another name or pass --force to replace it")
            }
        }
        do {
            file = try AtomicFile(path: path, mode: 0o600)
        } catch {
            throw ImageError(error.code == .filePermission ? .imageOutputPermission : .imageOutput,
                                message: "\(error.message): cannot create the output file; check that \(Folders.parent(of: path)) exists and is writable",
                                context: ErrorContext(file: path), underlying: error.underlying)
        }
    }

    /// Starts the output over (the snapshot may be retried from the start).
    func restart() throws(ImageError) {
        guard let file else {
            if writtenToStandardOutput > 0 {
                throw ImageError(.imageUnstable, message: "the file changed while it was being copied to standard output, which cannot be rewound; retry, or write to a file with --to FILE")
            }
            return
        }
        do { try file.restart() } catch { throw outputError(error) }
    }

    func write(_ buffer: [UInt8], count: Int) throws(ImageError) {
        guard let file else {
            let err = buffer.withUnsafeBytes { FileIO.writeAll(1, UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            if err != 0 {
                throw ImageError(.imageOutput, message: "cannot write the snapshot to standard output: \(errnoDescription(err))",
                                    underlying: .errno(err))
            }
            writtenToStandardOutput += Int64(count)
            return
        }
        do {
            try buffer.withBytes { (raw) throws(BaseError) in
                try file.write(UnsafeRawBufferPointer(rebasing: raw[0..<count]))
            }
        } catch {
            throw outputError(error)
        }
    }

    func commit() throws(ImageError) {
        guard let file else { return }
        do {
            try file.commit(force ? .replace : .writeOnce)
        } catch where error.code == .fileExists {
            throw ImageError(.imageOutputExists, message: "\(path) appeared while the snapshot was taken; choose another name or pass --force")
        } catch {
            throw outputError(error)
        }
    }

    func discard() {
        file?.abandon()
    }

    private func outputError(_ error: BaseError) -> ImageError {
        ImageError(.imageOutput, message: "\(error.message) (writing the snapshot to \(path))")
    }
}

import DRBase
import DRCore
import DRLogAnonymizer
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The files of one `drctl logs anonymize` run: each input checked before anything is
/// written, each output written under a temporary name and renamed only when complete.
struct LogFileJobs {
    struct Summary: Encodable {
        var input: String
        var output: String
        var statistics: LogAnonymizationStatistics
    }

    let input: String
    let output: String

    /// One job per input; refuses (naming the file) a missing, unreadable or non-regular input,
    /// an output folder that is not one, and an output that would be an input.
    static func plan(inputs: [String], outputDirectory: String?) throws -> [LogFileJobs] {
        var jobs: [LogFileJobs] = []
        if let outputDirectory {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: outputDirectory, isDirectory: &isFolder), isFolder.boolValue else {
                throw CoreError(.logsOutput, message: "--output-dir \(outputDirectory): no such folder; create it first; nothing was written",
                                context: ErrorContext(file: outputDirectory))
            }
        }
        for input in inputs {
            var status = stat()
            guard stat(input, &status) == 0 else {
                let reason = String(cString: strerror(errno))
                throw CoreError(.logsInput, message: "\(input): \(reason); nothing was written", context: ErrorContext(file: input))
            }
            guard status.st_mode & S_IFMT == S_IFREG else {
                throw CoreError(.logsInput, message: "\(input): not a regular file (a folder or device); name the log files themselves; nothing was written",
                                context: ErrorContext(file: input))
            }
            guard access(input, R_OK) == 0 else {
                throw CoreError(.logsInput, message: "\(input): not readable by this user; nothing was written", context: ErrorContext(file: input))
            }
            let name = (input as NSString).lastPathComponent + ".anon"
            let folder = outputDirectory ?? (input as NSString).deletingLastPathComponent
            let output = ((folder.isEmpty ? "." : folder) as NSString).appendingPathComponent(name)
            jobs.append(LogFileJobs(input: input, output: output))
        }
        var outputs: Set<String> = []
        for job in jobs where !outputs.insert((job.output as NSString).standardizingPath).inserted {
            throw CoreError(.logsOutput, message: "\(job.output) would be written for two inputs of the same name; anonymize them into different --output-dir folders; nothing was written",
                            context: ErrorContext(file: job.output))
        }
        let inputSet = Set(inputs.map { ($0 as NSString).standardizingPath })
        for job in jobs where inputSet.contains((job.output as NSString).standardizingPath) {
            throw CoreError(.logsOutput, message: "\(job.output) is also an input; an input is never overwritten: rename it or use --output-dir; nothing was written",
                            context: ErrorContext(file: job.output))
        }
        return jobs
    }

    func run(_ anonymizer: LogAnonymizer) throws {
        let fd = open(input, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw CoreError(.logsInput, message: "\(input): \(String(cString: strerror(errno)))", context: ErrorContext(file: input))
        }
        defer { close(fd) }
        let file: AtomicFile
        do { file = try AtomicFile(path: output, mode: 0o600) } catch {
            throw CoreError(.logsOutput, message: "\(output): cannot be created (\(error)); nothing was written", context: ErrorContext(file: output))
        }
        // Dropped uncommitted on any error: the temporary file goes, no partial output stays.
        try Self.pump(fd, name: input, anonymizer: anonymizer) { bytes in
            do { try file.write(bytes) } catch {
                throw CoreError(.logsOutput, message: "\(output): \(error); the partial output was removed", context: ErrorContext(file: output))
            }
        }
        do { try file.commit(.replace) } catch {
            throw CoreError(.logsOutput, message: "\(output): \(error)", context: ErrorContext(file: output))
        }
    }

    static func stream(from input: Int32, name: String, to output: Int32, anonymizer: LogAnonymizer) throws {
        try pump(input, name: name, anonymizer: anonymizer) { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(output, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw CoreError(.logsOutput, message: "standard output: \(String(cString: strerror(errno)))")
                }
                offset += written
            }
        }
    }

    private static func pump(_ fd: Int32, name: String, anonymizer: LogAnonymizer,
                             emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        let size = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = read(fd, buffer, size)
            if count < 0 {
                if errno == EINTR { continue }
                throw CoreError(.logsInput, message: "\(name): read failed after line \(anonymizer.statistics.lines): \(String(cString: strerror(errno)))",
                                context: ErrorContext(file: name, line: anonymizer.statistics.lines + 1))
            }
            if count == 0 { break }
            try anonymizer.feed(UnsafeRawBufferPointer(start: buffer, count: count), emit: emit)
        }
        try anonymizer.finish(emit: emit)
    }
}

import DRBase
import DRRepository
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The folder a drill restores into: private (0700) under the state folder, and wiped
/// afterwards, because it holds copies of personal data: every file overwritten with zeros and
/// fsynced before it is unlinked, then the folders removed, then checked gone.
struct DrillScratch {
    let path: String

    init(stateDirectory: String, started: Date) throws(CoreError) {
        let stamp = Timestamps.format(started).filter { $0.isNumber }
        path = "\(stateDirectory)/drill-scratch-\(stamp)-\(getpid())"
        let err = Folders.create(stateDirectory, mode: 0o700)
        guard err == 0 || err == EEXIST else {
            throw CoreError(.drillScratch, message: "cannot create the state folder \(stateDirectory) for the drill's scratch folder: \(errnoDescription(err))")
        }
        guard mkdir(path, 0o700) == 0 else {
            throw CoreError(.drillScratch, message: "cannot create the drill's scratch folder \(path): \(errnoDescription(errno)); check [state] path")
        }
        _ = chmod(path, 0o700)
    }

    /// Overwrites, syncs and removes everything below the folder, then the folder; `verified`
    /// when it is gone afterwards. Problems are returned (named), never thrown: a drill's
    /// results stand, and its report says the wipe failed.
    func wipe() -> (wiped: Bool, verified: Bool, problems: [String]) {
        var problems: [String] = []
        wipeFolder(path, problems: &problems)
        var info = stat()
        let gone = lstat(path, &info) != 0 && errno == ENOENT
        if !gone { problems.append("\(path) is still there after the wipe") }
        return (problems.isEmpty, gone, problems)
    }

    private func wipeFolder(_ folder: String, problems: inout [String]) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            problems.append("cannot list \(folder)")
            return
        }
        for name in names {
            let child = folder + "/" + name
            var info = stat()
            guard lstat(child, &info) == 0 else { continue }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                wipeFolder(child, problems: &problems)
            } else {
                if (info.st_mode & S_IFMT) == S_IFREG, let problem = overwrite(child, size: Int64(info.st_size)) {
                    problems.append(problem)
                }
                if unlink(child) != 0 { problems.append("cannot remove \(child): \(errnoDescription(errno))") }
            }
        }
        if rmdir(folder) != 0 { problems.append("cannot remove the folder \(folder): \(errnoDescription(errno))") }
    }

    /// Zeros over the whole file, fsynced: what the restore wrote is no longer on the disk's
    /// blocks that the file held (on a filesystem that writes in place).
    private func overwrite(_ file: String, size: Int64) -> String? {
        let fd = open(file, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return "cannot open \(file) to overwrite it: \(errnoDescription(errno))" }
        defer { close(fd) }
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var offset: Int64 = 0
        while offset < size {
            let count = Int(min(Int64(zeros.count), size - offset))
            let written = zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress, count, off_t(offset)) }
            guard written > 0 else { return "cannot overwrite \(file): \(errnoDescription(errno))" }
            offset += Int64(written)
        }
        guard fsync(fd) == 0 else { return "cannot sync \(file) after overwriting it: \(errnoDescription(errno))" }
        return nil
    }
}

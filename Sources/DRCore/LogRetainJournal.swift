import DRBase
import Foundation

/// `<state>/logs/journal/`: one small file per original being retained, written before its
/// first upload and removed once the original is deleted. It is a record, not the source of
/// truth (the object names on the targets are: a re-run finds what is stored from them); it
/// shows which originals a killed or degraded run left in progress.
struct LogRetainJournal {
    struct Entry: Codable {
        var source: String
        var object: String
        var started: String
    }

    let folder: String

    init(stateDirectory: String) {
        folder = stateDirectory + "/logs/journal"
    }

    private func path(_ object: String) -> String {
        folder + "/" + (object as NSString).lastPathComponent + ".json"
    }

    func entries() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".json") }
    }

    func record(_ entry: Entry) throws(CoreError) {
        guard let data = try? JSONEncoder().encode(entry) else { return }
        do {
            try AtomicFile.write(Array(data), to: path(entry.object), mode: 0o600, .replace, creatingFoldersWithMode: 0o700)
        } catch {
            throw CoreError(.logsState, message: "cannot write the retain journal \(path(entry.object)): \(error.message)", context: ErrorContext(file: path(entry.object)))
        }
    }

    func remove(_ object: String) {
        unlink(path(object))
        _ = Folders.sync(folder)
    }
}

import DRBase
#if canImport(Glibc)
import Glibc
#endif

/// What every mode starts from (the database descriptor, its header and stamp, the options),
/// the metadata it fills in while it decides what the image is, and the checks they share.
struct ImagePreparation {
    /// The mailbox's folder and its name in it: every companion is opened through them.
    let folder: StoreFolder
    let name: String
    let database: SystemFile
    let header: DatabaseHeader
    /// Taken when the database was opened; the final check compares against it.
    let initialStamp: FileStamp
    let options: ImageOptions
    var metadata: ImageMetadata

    var path: String { metadata.path }

    var initialModificationTimeNanoseconds: Int64 {
        Int64(initialStamp.mtimeSeconds) * 1_000_000_000 + Int64(initialStamp.mtimeNanoseconds)
    }

    func companion(_ suffix: String) -> String { name + suffix }

    func companionPath(_ suffix: String) -> String { folder.pathOf(name + suffix) }

    /// Stamps the database and its companions for `ImageMetadata.sourceStamp`; called by each
    /// mode once its locks are held and before it pins its state.
    mutating func stampSource() throws(ImageError) {
        let now = try database.stamp()
        let wal = try folder.stamp(companion("-wal"))?.stamp
        let journalPresent = try folder.exists(companion("-journal"))
        var clock = timespec()
        clock_gettime(CLOCK_REALTIME, &clock)
        metadata.sourceStamp = SourceStamp(state: FileState(
            size: now.size, mtimeNanoseconds: now.mtimeTotal, ctimeNanoseconds: now.ctimeTotal,
            inode: now.inode, device: now.device,
            walSize: wal?.size, walMtimeNanoseconds: wal?.mtimeTotal, walCtimeNanoseconds: wal?.ctimeTotal,
            walInode: wal?.inode, journalPresent: journalPresent),
            stampedAtNanoseconds: Int64(clock.tv_sec) * 1_000_000_000 + Int64(clock.tv_nsec))
    }

    /// The page size when nothing in the files says it.
    func fallbackPageSize() -> (Int, String) {
        if let configured = options.pageSize { return (configured, "configuration") }
        return (1024, "default")
    }

    func checkWholePages(pageSize: Int) throws(ImageError) {
        let size = try database.size()
        if size % Int64(pageSize) != 0 {
            throw ImageError.truncated(path, "its size (\(size) bytes) is not a whole number of \(pageSize)-byte pages")
        }
    }

    /// Every page of the image that is not overlaid must be in the database file.
    /// - Parameter source: "WAL" or "journal", for the message.
    func checkCoverage(databasePages: Int64, overlay offsets: [UInt32: Int64], from source: String) throws(ImageError) {
        guard Int64(metadata.pageCount) > databasePages else { return }
        var page = databasePages + 1
        while page <= Int64(metadata.pageCount) {
            if offsets[UInt32(page)] == nil {
                throw ImageError.truncated(path, "page \(page) of the committed state is neither in the file (\(databasePages) pages) nor in the \(source)")
            }
            page += 1
        }
    }

    /// Image size and overlaid pages, once page size and page count are final.
    mutating func finishMetadata(overlay offsets: [UInt32: Int64]) {
        let pageCount = metadata.pageCount
        metadata.imageSize = Int64(pageCount) * Int64(metadata.pageSize)
        metadata.overlaidPages = offsets.keys.filter { Int($0) <= pageCount }.count
    }
}

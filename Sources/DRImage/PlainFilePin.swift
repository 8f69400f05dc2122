/// not-sqlite: a file that has no locking protocol to follow, copied in blocks without locks.
///
/// Nothing is held, so nothing protects the copy: it is accepted only if size, times and
/// inode are the same afterwards (`checkUnchanged`), and made again otherwise.
struct PlainFilePin {
    static func prepare(_ preparation: inout ImagePreparation) -> PlainFilePin {
        let size = preparation.initialStamp.size
        let block = max(512, preparation.options.otherFileBlockSize)
        preparation.metadata.mode = .notSQLite
        preparation.metadata.pageSize = block
        preparation.metadata.pageSizeSource = "default"
        preparation.metadata.pageCount = Int((size + Int64(block) - 1) / Int64(block))
        preparation.metadata.imageSize = size
        preparation.metadata.reservedBytes = nil
        var consistency = ConsistencyPoint(hotJournalApplied: false)
        consistency.fileSize = size
        consistency.modificationTimeNanoseconds = preparation.initialModificationTimeNanoseconds
        preparation.metadata.consistency = consistency
        return PlainFilePin()
    }

    func checkUnchanged(database: SystemFile, initialStamp: FileStamp, path: String) throws(ImageError) {
        let current = try database.stamp()
        if current != initialStamp {
            throw ImageError.unstable(path, "it changed (size, modification time or inode) while being copied")
        }
    }
}

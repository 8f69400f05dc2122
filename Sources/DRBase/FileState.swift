/// lstat(2) facts of a mailbox, its WAL and whether a hot journal exists: if all are equal on
/// the next run (and settled, see `BackupJob.settled`), the committed content cannot have
/// changed. Recorded in manifests as `sourceState` (field names are the format) and taken by
/// DRImage under the snapshot's lock, so both modules share this one type.
package struct FileState: Codable, Sendable, Equatable, Hashable {
    package var size: Int64
    package var mtimeNanoseconds: Int64
    package var ctimeNanoseconds: Int64
    package var inode: UInt64
    package var device: UInt64
    package var walSize: Int64?
    package var walMtimeNanoseconds: Int64?
    package var walCtimeNanoseconds: Int64?
    package var walInode: UInt64?
    package var journalPresent: Bool

    package init(size: Int64, mtimeNanoseconds: Int64, ctimeNanoseconds: Int64, inode: UInt64, device: UInt64,
                walSize: Int64?, walMtimeNanoseconds: Int64?, walCtimeNanoseconds: Int64?, walInode: UInt64?,
                journalPresent: Bool) {
        self.size = size
        self.mtimeNanoseconds = mtimeNanoseconds
        self.ctimeNanoseconds = ctimeNanoseconds
        self.inode = inode
        self.device = device
        self.walSize = walSize
        self.walMtimeNanoseconds = walMtimeNanoseconds
        self.walCtimeNanoseconds = walCtimeNanoseconds
        self.walInode = walInode
        self.journalPresent = journalPresent
    }
}

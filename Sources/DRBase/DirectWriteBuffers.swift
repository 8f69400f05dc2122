import CDRSystem
import Synchronization

/// Staging buffers for direct writes (`AtomicFile(bulk: true)`), reused from file to file.
///
/// Direct I/O needs aligned memory, and a buffer mapped afresh for every file would be filled
/// through page faults every time (on a virtual machine each fresh page can also cost a fault
/// on the host: measured here at ~3 s of system time per GB, docs/PROFILES.md). So the
/// buffers are mapped once, 2 MiB-aligned with transparent huge pages, and a file gives its
/// buffer back when it is committed or abandoned. At most `keptIdle` wait here: one per
/// thread that writes big files at once (the uploaders of two targets, the restore workers);
/// more are unmapped, so the pool never holds more than a few of them resident.
package enum DirectWriteBuffers {
    /// Bytes per buffer: a multiple of every direct-I/O alignment, and large enough that the
    /// device sees few, long writes (4 MiB wrote 850 MiB in 0.6 s here, 1 MiB in 0.9 s).
    package static let size = 4 << 20
    static let keptIdle = 4
    /// Idle buffers' addresses (a pointer is not Sendable; its bit pattern is).
    private static let idle = Mutex<[UInt]>([])

    /// A buffer of `size` bytes, or nil when none can be mapped (the caller then writes
    /// through the page cache).
    package static func take() -> UnsafeMutableRawPointer? {
        if let address = idle.withLock({ $0.popLast() }) {
            return UnsafeMutableRawPointer(bitPattern: address)
        }
        return CDRSystem_map_aligned(UInt(size))
    }

    /// Returns a buffer from `take` (its contents are not cleared: it only ever held file
    /// bytes on their way to a file, never a key).
    package static func give(_ buffer: UnsafeMutableRawPointer) {
        let kept = idle.withLock { list in
            guard list.count < keptIdle else { return false }
            list.append(UInt(bitPattern: buffer))
            return true
        }
        if !kept { CDRSystem_unmap(buffer, UInt(size)) }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Memory for the big direct-mapped caches (the IP pseudonyms' and the log anonymizer's token
/// cache, several MiB each, looked up at random): anonymous pages aligned to 2 MiB and marked
/// for transparent huge pages. Each lookup lands on an unpredictable page, so with 4 KiB pages
/// nearly every one also misses the TLB (16 MiB is 4,096 pages, beyond the second-level TLB)
/// and pays a page walk; with 2 MiB pages the whole cache is a few TLB entries. Where the kernel
/// has no huge pages to give, the memory is ordinary pages and works the same.
///
/// The pages come zero-filled (mmap), so a cache whose empty slot is all zeros needs no
/// initialising pass.
package enum CacheMemory {
    private static let hugePage = 2 << 20

    /// `byteCount` zero bytes, 2 MiB-aligned; released with `release(_:byteCount:)`.
    package static func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        let length = byteCount + hugePage
        let result: UnsafeMutableRawPointer? = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        // MAP_FAILED is (void *)-1, a macro Swift does not import.
        guard let mapped = result, Int(bitPattern: mapped) != -1 else {
            // Like a failed malloc of the same size: the caches are fixed, small, needed.
            fatalError("cannot map \(byteCount) bytes for a cache: out of memory")
        }
        // Keep the 2 MiB-aligned part; give the rest back.
        let start = Int(bitPattern: mapped)
        let aligned = (start + hugePage - 1) & ~(hugePage - 1)
        if aligned > start { munmap(mapped, aligned - start) }
        let end = start + length
        let used = aligned + roundedUp(byteCount)
        if end > used { munmap(UnsafeMutableRawPointer(bitPattern: used), end - used) }
        let pointer = UnsafeMutableRawPointer(bitPattern: aligned)!
        // Advice only: without transparent huge pages the pages stay 4 KiB.
        _ = madvise(pointer, roundedUp(byteCount), MADV_HUGEPAGE)
        return pointer
    }

    package static func release(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        munmap(pointer, roundedUp(byteCount))
    }

    private static func roundedUp(_ count: Int) -> Int {
        let page = 4096
        return (count + page - 1) & ~(page - 1)
    }
}

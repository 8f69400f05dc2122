import CDRSystem

/// Transparent huge pages for large buffers that are filled once, front to back.
package enum HugePages {
    /// Asks for huge pages under `bytes`' reserved storage (its capacity, not only its count).
    ///
    /// A backup fills a fresh 18 MiB pack buffer per 16 MiB pack; with 4 KiB pages each buffer
    /// is filled through 4,608 page faults, 15 % of a full backup's CPU samples here
    /// (docs/PROFILES.md), with 2 MiB pages through nine. A hint: where huge pages are off
    /// (`/sys/kernel/mm/transparent_hugepage/enabled` = never) nothing changes. Memory use grows
    /// by at most one huge page per buffer, the part of the last 2 MiB not yet written.
    package static func advise(_ bytes: inout [UInt8]) {
        let capacity = bytes.capacity
        guard capacity >= 2 << 20 else { return }
        bytes.withUnsafeMutableBufferPointer { buffer in
            if let base = buffer.baseAddress { _ = CDRSystem_advise_huge_pages(base, UInt(capacity)) }
        }
    }
}

internal import CDRSystem
#if canImport(Glibc)
import Glibc
#endif

/// Makes the process unable to leak secrets through a core dump or ptrace-style reads.
///
/// Called first thing in `main`: RLIMIT_CORE 0 stops the kernel writing a core file, and
/// PR_SET_DUMPABLE 0 additionally stops systemd-coredump (which ignores RLIMIT_CORE when
/// it is the core_pattern pipe) and non-root same-user processes from reading our memory.
package enum ProcessHardening {
    package struct Status: Sendable, Equatable {
        package var coreLimitSoft: UInt64
        package var coreLimitHard: UInt64
        package var dumpable: Bool
    }

    /// Applies the hardening; throws if the kernel refuses (then drctl must not continue).
    package static func apply() throws(BaseError) {
        var limit = rlimit(rlim_cur: 0, rlim_max: 0)
        if setrlimit(Int32(RLIMIT_CORE.rawValue), &limit) != 0 {
            throw BaseError(.processRlimit, message: "cannot disable core dumps (setrlimit RLIMIT_CORE): \(errnoDescription(errno))")
        }
        if CDRSystem_set_dumpable(0) != 0 {
            throw BaseError(.processDumpable, message: "cannot mark the process non-dumpable (prctl PR_SET_DUMPABLE): \(errnoDescription(errno))")
        }
    }

    /// Reads the state back from the kernel (for `drctl debug hardening` and its test).
    package static func current() -> Status {
        var limit = rlimit()
        _ = getrlimit(Int32(RLIMIT_CORE.rawValue), &limit)
        let dumpable = CDRSystem_get_dumpable()
        return Status(coreLimitSoft: UInt64(limit.rlim_cur), coreLimitHard: UInt64(limit.rlim_max),
                      dumpable: dumpable != 0)
    }
}

/// How the process asks glibc for memory.
package enum ProcessMemory {
    /// Buffers of this size or more are mapped and unmapped on their own.
    package static let mmapThreshold: Int32 = 256 << 10

    /// Makes glibc give large buffers (16 MiB packs, 8 MiB read windows, zstd frames) back to
    /// the kernel when they are freed. By default glibc raises its mmap threshold to the
    /// largest block freed so far and then keeps such blocks in its heap: measured by
    /// `scripts/bench --scale`, a full backup peaked at 142 MiB (small store) and 209 MiB
    /// (10× larger) that way, against 79 and 114 MiB with a fixed 128 KiB threshold.
    package static func returnLargeBuffers() {
        _ = CDRSystem_set_mmap_threshold(mmapThreshold)
    }
}

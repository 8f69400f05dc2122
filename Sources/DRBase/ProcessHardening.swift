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

/// The process exit statuses of drctl, in one place (documented in docs/EXIT-CODES.md).
///
/// They follow BSD sysexits(3) so that systemd units, monitoring and shell scripts can tell
/// "fix the configuration" from "try again later" without parsing messages.
package enum ExitStatus: Int32, Sendable, CaseIterable {
    /// Everything asked for was done.
    case success = 0
    /// The job ran but some part of it failed (a mailbox not backed up, a file not restored).
    case failure = 1
    /// Not every target is complete: one was unreachable, failing, found damaged, or lags
    /// behind the others. For a backup: every mailbox was backed up, but not to every target;
    /// the snapshot is complete on the others, and `drctl sync` (or the next backup) brings the
    /// lagging target up to date. `drctl sync` and `drctl targets` end so too while a target
    /// is unreachable or could not be completed.
    case degraded = 2
    /// `check` found damage or inconsistency in a repository or an image.
    case integrity = 3
    /// A recovery objective is missed: the newest restorable point of some mailbox is older
    /// than `[objectives] rpo`, or there is none (`drctl status`, for a monitoring check).
    /// Its own status, so that a check tells "back up now" from a lagging target (2).
    case objectiveMissed = 4
    /// `drctl run` found another run of this host in progress and did nothing (a timer that
    /// fired while a long run, or an operator's, was still going).
    case alreadyRunning = 5
    /// The command line was wrong (also what ArgumentParser uses for validation errors).
    case usage = 64
    /// Input data was malformed: a corrupt object, a file that is not what it claims.
    case dataError = 65
    /// A file or object that was needed does not exist.
    case noInput = 66
    /// Refused to create something that already exists (an existing repository, a file).
    case cannotCreate = 73
    /// Reading or writing failed at the operating-system level (disk full, EIO).
    case ioError = 74
    /// A temporary condition (a lock held, a server busy): the same command may succeed later.
    case temporaryFailure = 75
    /// Wrong passphrase or key, or missing permission.
    case permissionDenied = 77
    /// The configuration is wrong: a syntax error, an unknown key, an unsafe file mode.
    case configuration = 78

    /// One line for `--help` and the docs.
    package var meaning: String {
        switch self {
        case .success: "success"
        case .failure: "the job ran, but part of it failed (see the summary)"
        case .degraded: "not every target is complete (one unreachable, failing, damaged or lagging: see the summary); a backup reached the others; drctl sync completes the lagging one"
        case .integrity: "damage or inconsistency found by a check"
        case .objectiveMissed: "a recovery objective is missed: a mailbox's newest restorable point is older than [objectives] rpo, or there is none"
        case .alreadyRunning: "another drctl run of this host is in progress; this one did nothing"
        case .usage: "wrong command-line usage"
        case .dataError: "malformed or corrupt input data"
        case .noInput: "a needed file or object does not exist"
        case .cannotCreate: "refused to overwrite something that exists"
        case .ioError: "an operating-system I/O error (disk full, EIO, …)"
        case .temporaryFailure: "temporary condition; retrying later may succeed"
        case .permissionDenied: "wrong passphrase or key, or no permission"
        case .configuration: "configuration error"
        }
    }
}

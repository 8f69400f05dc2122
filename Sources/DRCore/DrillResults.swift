/// What a restore drill found: the body of a drill report (issue 12). `drctl drill` makes it,
/// `DrillEvidence` signs it into the report chain (as the payload's `drill` field), the HTML
/// report renders it, and docs/AUDIT.md documents every field for independent verifiers.
/// Times are `Timestamps` text; durations in seconds; sizes in bytes.
package struct DrillResults: Sendable, Codable, Equatable {
    /// pass, fail or unknown. A check that could not run is unknown, and unknown is never a pass:
    /// overall pass needs every check of every target to pass.
    package enum Verdict: String, Sendable, Codable, Equatable, Comparable {
        case pass, fail, unknown

        /// The combination of several verdicts: any fail fails; else any unknown is unknown.
        package static func combined(_ verdicts: [Verdict]) -> Verdict {
            if verdicts.contains(.fail) { return .fail }
            if verdicts.contains(.unknown) || verdicts.isEmpty { return .unknown }
            return .pass
        }

        package static func < (a: Verdict, b: Verdict) -> Bool {
            let order: [Verdict] = [.pass, .unknown, .fail]
            return order.firstIndex(of: a)! < order.firstIndex(of: b)!
        }
    }

    /// Which recovery point was drilled.
    package struct Point: Sendable, Codable, Equatable {
        /// "latest" or "random-within".
        package var mode: String
        /// The window for random-within ("7d").
        package var window: String?
        /// The moment T restored as of (the store as it was at T).
        package var time: String
        package init(mode: String, window: String?, time: String) {
            self.mode = mode
            self.window = window
            self.time = time
        }
    }

    /// One stratum of the selection: mailboxes alike in cipher, journal mode and size class.
    package struct Stratum: Sendable, Codable, Equatable {
        package var cipher: String
        package var journal: String
        /// "small" (< 1 MiB), "medium" (< 100 MiB) or "large".
        package var size: String
        package var population: Int
        package var chosen: Int
        package init(cipher: String, journal: String, size: String, population: Int, chosen: Int) {
            self.cipher = cipher
            self.journal = journal
            self.size = size
            self.population = population
            self.chosen = chosen
        }
    }

    /// How the mailboxes were chosen, enough for an auditor to re-perform it.
    package struct Selection: Sendable, Codable, Equatable {
        /// The seed of the selection (and of a random-within point).
        package var seed: UInt64
        /// "sample" or "all".
        package var mode: String
        package var sample: Int
        /// Mailboxes in the recovery point.
        package var population: Int
        package var strata: [Stratum]
        /// The mailboxes drilled, in order (paths relative to the store).
        package var mailboxes: [String]
        /// Mailboxes chosen because they were the longest undrilled (rotation), among `mailboxes`.
        package var rotated: [String]
        package init(seed: UInt64, mode: String, sample: Int, population: Int, strata: [Stratum],
                     mailboxes: [String], rotated: [String]) {
            self.seed = seed
            self.mode = mode
            self.sample = sample
            self.population = population
            self.strata = strata
            self.mailboxes = mailboxes
            self.rotated = rotated
        }
    }

    /// One check on one mailbox restored from one target.
    package struct Check: Sendable, Codable, Equatable {
        /// "chunks-authenticated", "tree-root", "size-and-pages", "integrity-check",
        /// "row-counts", "encrypted-header", "verify-command", "canary", …
        package var name: String
        package var verdict: Verdict
        package var detail: String?
        package init(name: String, verdict: Verdict, detail: String? = nil) {
            self.name = name
            self.verdict = verdict
            self.detail = detail
        }
    }

    /// Phases of one mailbox's restore.
    package struct Timing: Sendable, Codable, Equatable {
        /// Download and decryption (the restore itself).
        package var fetchSeconds: Double
        /// The checks after it.
        package var verifySeconds: Double
        package var totalSeconds: Double
        package init(fetchSeconds: Double, verifySeconds: Double, totalSeconds: Double) {
            self.fetchSeconds = fetchSeconds
            self.verifySeconds = verifySeconds
            self.totalSeconds = totalSeconds
        }
    }

    package struct MailboxResult: Sendable, Codable, Equatable {
        package var path: String
        package var snapshot: String?
        /// The restored image's moment (its entry's consistentAt): the mailbox's recovery point.
        package var consistentAt: String?
        package var cipher: String?
        package var journal: String?
        package var bytes: Int64
        package var timing: Timing?
        package var checks: [Check]
        package var verdict: Verdict
        package init(path: String, snapshot: String?, consistentAt: String?, cipher: String?, journal: String?,
                     bytes: Int64, timing: Timing?, checks: [Check], verdict: Verdict) {
            self.path = path
            self.snapshot = snapshot
            self.consistentAt = consistentAt
            self.cipher = cipher
            self.journal = journal
            self.bytes = bytes
            self.timing = timing
            self.checks = checks
            self.verdict = verdict
        }
    }

    /// Everything restored from one target, independently of the others.
    package struct TargetResult: Sendable, Codable, Equatable {
        package var name: String
        package var verdict: Verdict
        /// Why the target could not be drilled at all (unreachable): then its checks are unknown.
        package var error: String?
        package var mailboxes: [MailboxResult]
        /// Restored bytes per second over the drill (fetch phases only).
        package var throughputBytesPerSecond: Double?
        /// The whole store's restore from this target, projected: fixed overhead + store size ÷
        /// measured throughput + verification at the measured rate.
        package var projectedFullRestoreSeconds: Double?
        package var projectionAssumptions: [String]
        package init(name: String, verdict: Verdict, error: String?, mailboxes: [MailboxResult],
                     throughputBytesPerSecond: Double?, projectedFullRestoreSeconds: Double?, projectionAssumptions: [String]) {
            self.name = name
            self.verdict = verdict
            self.error = error
            self.mailboxes = mailboxes
            self.throughputBytesPerSecond = throughputBytesPerSecond
            self.projectedFullRestoreSeconds = projectedFullRestoreSeconds
            self.projectionAssumptions = projectionAssumptions
        }
    }

    /// The achieved recovery point: from the restored entries, and from the canary's data.
    package struct RPO: Sendable, Codable, Equatable {
        package struct Canary: Sendable, Codable, Equatable {
            package var mailbox: String
            /// The newest canary time read from the restored copy (worst over the targets).
            package var newestWrite: String?
            package var ageSeconds: Double?
            package var verdict: Verdict
            package init(mailbox: String, newestWrite: String?, ageSeconds: Double?, verdict: Verdict) {
                self.mailbox = mailbox
                self.newestWrite = newestWrite
                self.ageSeconds = ageSeconds
                self.verdict = verdict
            }
        }
        package var objectiveSeconds: Int64
        /// Drill start minus each drilled mailbox's recovery point: worst and median.
        package var worstSeconds: Double?
        package var medianSeconds: Double?
        package var worstMailbox: String?
        package var canary: Canary?
        package var verdict: Verdict
        package init(objectiveSeconds: Int64, worstSeconds: Double?, medianSeconds: Double?, worstMailbox: String?,
                     canary: Canary?, verdict: Verdict) {
            self.objectiveSeconds = objectiveSeconds
            self.worstSeconds = worstSeconds
            self.medianSeconds = medianSeconds
            self.worstMailbox = worstMailbox
            self.canary = canary
            self.verdict = verdict
        }
    }

    package struct RTO: Sendable, Codable, Equatable {
        package var objectiveSeconds: Int64
        /// The slowest single mailbox restore (fetch + verify).
        package var worstMailboxSeconds: Double?
        /// The slowest target's projected full-store restore.
        package var projectedFullStoreSeconds: Double?
        package var verdict: Verdict
        package init(objectiveSeconds: Int64, worstMailboxSeconds: Double?, projectedFullStoreSeconds: Double?, verdict: Verdict) {
            self.objectiveSeconds = objectiveSeconds
            self.worstMailboxSeconds = worstMailboxSeconds
            self.projectedFullStoreSeconds = projectedFullStoreSeconds
            self.verdict = verdict
        }
    }

    /// Something that did not pass, with its cause.
    package struct Deviation: Sendable, Codable, Equatable {
        package var target: String?
        package var mailbox: String?
        /// The object at fault (`data/3f/3f9c…`), when known.
        package var object: String?
        package var check: String
        package var verdict: Verdict
        package var cause: String
        package init(target: String?, mailbox: String?, object: String?, check: String, verdict: Verdict, cause: String) {
            self.target = target
            self.mailbox = mailbox
            self.object = object
            self.check = check
            self.verdict = verdict
            self.cause = cause
        }
    }

    /// Which controls a check supports ("SOC 2 A1.3", "ISO/IEC 27001:2022 A.8.13", "NIST SP
    /// 800-53 CP-9(1)", "GDPR Art. 32(1)(d)", …).
    package struct Control: Sendable, Codable, Equatable {
        package var check: String
        package var frameworks: [String]
        package init(check: String, frameworks: [String]) {
            self.check = check
            self.frameworks = frameworks
        }
    }

    /// Share of the store's mailboxes drilled (from any target) within the last 30, 90, 365 days,
    /// this drill included, from the report history.
    package struct Coverage: Sendable, Codable, Equatable {
        package var mailboxes: Int
        package var last30Days: Double
        package var last90Days: Double
        package var last365Days: Double
        package init(mailboxes: Int, last30Days: Double, last90Days: Double, last365Days: Double) {
            self.mailboxes = mailboxes
            self.last30Days = last30Days
            self.last90Days = last90Days
            self.last365Days = last365Days
        }
    }

    /// The scratch folder the mailboxes were restored into, and its wipe.
    package struct Scratch: Sendable, Codable, Equatable {
        package var path: String
        /// Every restored file overwritten and removed, then the folder removed.
        package var wiped: Bool
        /// The folder was checked gone afterwards.
        package var verified: Bool
        package init(path: String, wiped: Bool, verified: Bool) {
            self.path = path
            self.wiped = wiped
            self.verified = verified
        }
    }

    package var scenario: String?
    package var started: String
    package var finished: String
    package var point: Point
    package var selection: Selection
    package var targets: [TargetResult]
    package var rpo: RPO
    package var rto: RTO
    package var deviations: [Deviation]
    package var controls: [Control]
    package var coverage: Coverage
    package var scratch: Scratch
    package var verdict: Verdict

    package init(scenario: String?, started: String, finished: String, point: Point, selection: Selection,
                 targets: [TargetResult], rpo: RPO, rto: RTO, deviations: [Deviation], controls: [Control],
                 coverage: Coverage, scratch: Scratch, verdict: Verdict) {
        self.scenario = scenario
        self.started = started
        self.finished = finished
        self.point = point
        self.selection = selection
        self.targets = targets
        self.rpo = rpo
        self.rto = rto
        self.deviations = deviations
        self.controls = controls
        self.coverage = coverage
        self.scratch = scratch
        self.verdict = verdict
    }
}

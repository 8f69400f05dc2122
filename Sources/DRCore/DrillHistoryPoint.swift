/// One past drill as the HTML report's charts plot it: taken from an earlier report's
/// results (`init(sequence:results:)`), so that the charts show what was measured and judged
/// then, against the objectives in force then.
package struct DrillHistoryPoint: Sendable, Codable, Equatable {
    /// The report's sequence number in the chain, when known.
    package var sequence: Int?
    /// When the drill started (RFC 3339): the moment its achieved RPO is measured from.
    package var time: String
    /// The achieved RPO, worst mailbox (drill start minus its recovery point); nil when not measured.
    package var rpoWorstSeconds: Double?
    package var rpoObjectiveSeconds: Int64
    /// The canary's age in the restored copy (drill start minus its newest write read back):
    /// the RPO proven from the data itself; nil without a canary.
    package var canaryAgeSeconds: Double?
    /// The slowest target's projected full-store restore; nil when not projected.
    package var rtoProjectedSeconds: Double?
    package var rtoObjectiveSeconds: Int64
    /// The drill's overall verdict.
    package var verdict: DrillResults.Verdict

    package init(sequence: Int?, time: String, rpoWorstSeconds: Double?, rpoObjectiveSeconds: Int64, canaryAgeSeconds: Double? = nil,
                 rtoProjectedSeconds: Double?, rtoObjectiveSeconds: Int64, verdict: DrillResults.Verdict) {
        self.sequence = sequence
        self.time = time
        self.rpoWorstSeconds = rpoWorstSeconds
        self.rpoObjectiveSeconds = rpoObjectiveSeconds
        self.canaryAgeSeconds = canaryAgeSeconds
        self.rtoProjectedSeconds = rtoProjectedSeconds
        self.rtoObjectiveSeconds = rtoObjectiveSeconds
        self.verdict = verdict
    }

    /// The point a report's results give.
    package init(sequence: Int?, results: DrillResults) {
        self.init(sequence: sequence, time: results.started,
                  rpoWorstSeconds: results.rpo.worstSeconds, rpoObjectiveSeconds: results.rpo.objectiveSeconds,
                  canaryAgeSeconds: results.rpo.canary?.ageSeconds,
                  rtoProjectedSeconds: results.rto.projectedFullStoreSeconds,
                  rtoObjectiveSeconds: results.rto.objectiveSeconds, verdict: results.verdict)
    }
}

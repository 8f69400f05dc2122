import DRBase
import DRConfig
import DRRepository
import Foundation

/// The drill's figures and verdicts from the targets' results: achieved RPO (per mailbox and
/// from the canary), RTO (per mailbox and projected), deviations, the controls each check
/// supports, the overall verdict.
package enum DrillMeasures {
    static func assemble(scenario: String?, started: Date, finished: Date, point: DrillResults.Point, pointTime: Date,
                         selection: DrillResults.Selection, targets: [DrillResults.TargetResult], deviations: [DrillResults.Deviation],
                         objectives: Configuration.Objectives, canary: (mailbox: String, newest: [String: Date?])?,
                         coverage: DrillResults.Coverage, scratch: DrillResults.Scratch) -> DrillResults {
        var deviations = deviations
        let rpoObjective = Double(objectives.rpo.seconds)
        let rtoObjective = Double(objectives.rto.seconds)

        // RPO: the point minus each mailbox's restored recovery point, the worst over the
        // targets that restored it (for `latest`, the point is the drill's start).
        var ages: [String: Double] = [:]
        for target in targets {
            for mailbox in target.mailboxes where mailbox.timing != nil && mailbox.path != canary?.mailbox {
                guard let at = mailbox.consistentAt.flatMap(Timestamps.parse) else { continue }
                let age = max(0, pointTime.timeIntervalSince(at))
                ages[mailbox.path] = max(ages[mailbox.path] ?? 0, age)
            }
        }
        let sortedAges = ages.values.sorted()
        let worst = ages.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }
        let median: Double? = sortedAges.isEmpty ? nil : sortedAges.count % 2 == 1 ? sortedAges[sortedAges.count / 2]
            : (sortedAges[sortedAges.count / 2 - 1] + sortedAges[sortedAges.count / 2]) / 2
        var canaryResult: DrillResults.RPO.Canary?
        if let canary {
            let read = canary.newest.values.compactMap { $0 }
            // Worst over the targets; a target that could not give it leaves it unknown.
            let oldest = read.min()
            let complete = read.count == canary.newest.count && !read.isEmpty
            let age = oldest.map { pointTime.timeIntervalSince($0) }
            let verdict: DrillResults.Verdict = !complete ? .unknown : (age ?? .infinity) > rpoObjective ? .fail : .pass
            canaryResult = .init(mailbox: canary.mailbox, newestWrite: oldest.map(Timestamps.format), ageSeconds: age, verdict: verdict)
            if verdict != .pass {
                deviations.append(.init(target: nil, mailbox: canary.mailbox, object: nil, check: "canary-rpo", verdict: verdict,
                                        cause: canary.newest.isEmpty
                                            ? "the canary \(canary.mailbox) is not in the recovery point: run drctl canary from its timer, and check that [store] include matches it"
                                            : !complete ? "the canary could not be read back from every target"
                                            : "the canary's newest restorable write is \(seconds(age ?? 0)) old (objective \(objectives.rpo))"))
            }
        }
        var rpoVerdict: DrillResults.Verdict = worst == nil ? .unknown : worst!.value > rpoObjective ? .fail : .pass
        if let canaryResult { rpoVerdict = .combined([rpoVerdict, canaryResult.verdict]) }
        if let worst, worst.value > rpoObjective {
            deviations.append(.init(target: nil, mailbox: worst.key, object: nil, check: "rpo", verdict: .fail,
                                    cause: "achieved RPO \(seconds(worst.value)) for \(worst.key) exceeds the objective \(objectives.rpo) ([objectives] rpo)"))
        } else if worst == nil {
            deviations.append(.init(target: nil, mailbox: nil, object: nil, check: "rpo", verdict: .unknown,
                                    cause: "no mailbox was restored, so no recovery point was measured"))
        }
        let rpo = DrillResults.RPO(objectiveSeconds: objectives.rpo.seconds, worstSeconds: worst?.value, medianSeconds: median,
                                   worstMailbox: worst?.key, canary: canaryResult, verdict: rpoVerdict)

        // RTO: the slowest mailbox, and the slowest target's projected whole-store restore.
        let worstMailbox = targets.flatMap(\.mailboxes).compactMap(\.timing?.totalSeconds).max()
        let projections = targets.map(\.projectedFullRestoreSeconds)
        let projected = projections.compactMap { $0 }.max()
        var rtoVerdict: DrillResults.Verdict
        if projected == nil || projections.contains(where: { $0 == nil }) {
            // A target without a measured throughput cannot be projected: unknown, not a pass.
            rtoVerdict = projected.map { $0 > rtoObjective ? .fail : .unknown } ?? .unknown
        } else {
            rtoVerdict = projected! > rtoObjective ? .fail : .pass
        }
        if rtoVerdict != .pass {
            let cause = projected.map { "the projected full-store restore takes \(seconds($0)) on the slowest target (objective \(objectives.rto))" }
                ?? "no target's restore throughput could be measured"
            deviations.append(.init(target: nil, mailbox: nil, object: nil, check: "rto", verdict: rtoVerdict,
                                    cause: projections.contains(where: { $0 == nil }) && rtoVerdict == .unknown
                                        ? cause + "; a target could not be measured" : cause))
        }
        let rto = DrillResults.RTO(objectiveSeconds: objectives.rto.seconds, worstMailboxSeconds: worstMailbox,
                                   projectedFullStoreSeconds: projected, verdict: rtoVerdict)
        var verdicts = targets.map(\.verdict) + [rpo.verdict, rto.verdict]
        if !scratch.wiped || !scratch.verified { verdicts.append(.fail) }
        let checkNames = Set(targets.flatMap(\.mailboxes).flatMap(\.checks).map(\.name)).union(["rpo", "rto", "scratch-wipe"])
            .union(canary == nil ? [] : ["canary-rpo"])
        return DrillResults(scenario: scenario, started: Timestamps.format(started), finished: Timestamps.format(finished), point: point,
                            selection: selection, targets: targets, rpo: rpo, rto: rto, deviations: deviations,
                            controls: controls.filter { checkNames.contains($0.check) }, coverage: coverage, scratch: scratch,
                            verdict: .combined(verdicts))
    }

    static let soc2A12 = "SOC 2 A1.2", soc2A13 = "SOC 2 A1.3", soc2CC75 = "SOC 2 CC7.5"
    static let iso813 = "ISO/IEC 27001:2022 A.8.13", iso530 = "ISO/IEC 27001:2022 A.5.30"
    static let cp4 = "NIST SP 800-53 CP-4", cp91 = "NIST SP 800-53 CP-9(1)", cp92 = "NIST SP 800-53 CP-9(2)", cp10 = "NIST SP 800-53 CP-10"
    static let gdprC = "GDPR Art. 32(1)(c)", gdprD = "GDPR Art. 32(1)(d)"

    /// Which controls each check supports (docs/ARCHITECTURE.md, "Drills", gives the reasons).
    static let controls: [DrillResults.Control] = [
        .init(check: "restore", frameworks: [soc2A12, soc2A13, iso813, cp4, cp92, gdprC, gdprD]),
        .init(check: "chunks-authenticated", frameworks: [soc2A13, iso813, cp91, cp92, gdprD]),
        .init(check: "tree-root", frameworks: [soc2A13, iso813, cp91, gdprD]),
        .init(check: "size-and-pages", frameworks: [soc2A13, iso813, cp91, gdprD]),
        .init(check: "integrity-check", frameworks: [soc2A13, iso813, cp91, gdprD]),
        .init(check: "row-counts", frameworks: [soc2A13, iso813, cp91, gdprD]),
        .init(check: "encrypted-header", frameworks: [soc2A13, iso813, cp91]),
        .init(check: "verify-command", frameworks: [soc2A13, iso813, cp91, gdprD]),
        .init(check: "canary", frameworks: [soc2A13, iso530, cp4, cp10]),
        .init(check: "canary-rpo", frameworks: [soc2CC75, iso530, cp4, cp10, gdprC]),
        .init(check: "rpo", frameworks: [soc2CC75, iso530, cp4, cp10, gdprC]),
        .init(check: "rto", frameworks: [soc2CC75, iso530, cp4, cp10, gdprC]),
        .init(check: "scratch-wipe", frameworks: [gdprD, iso813]),
    ]

    static func seconds(_ value: Double) -> String {
        let whole = Int64(value.rounded())
        if whole < 120 { return String(format: "%.1f s", value) }
        if whole < 7200 { return "\(whole / 60) min \(whole % 60) s" }
        return String(format: "%.2f h", value / 3600)
    }

    /// One deviation as a line.
    package static func describe(_ deviation: DrillResults.Deviation) -> String {
        var parts: [String] = []
        if let target = deviation.target { parts.append("target \(target)") }
        if let mailbox = deviation.mailbox { parts.append("mailbox \(mailbox)") }
        if let object = deviation.object { parts.append("object \(object)") }
        let place = parts.isEmpty ? "" : parts.joined(separator: ", ") + ": "
        return "\(deviation.check) \(deviation.verdict.rawValue.uppercased()) — \(place)\(deviation.cause)"
    }
}

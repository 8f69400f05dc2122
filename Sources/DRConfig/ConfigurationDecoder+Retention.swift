import DRBase
extension ConfigurationDecoder {
    /// `[retention]`: optional; a key left out keeps its default, but not every rule may be off.
    mutating func decodeRetention(_ root: TOMLTable) -> Configuration.Retention? {
        let defaults = Configuration.Defaults.retention
        guard let section = singleSection(root, "retention") else {
            return root["retention"] == nil ? defaults : nil
        }
        reader.checkUnknownKeys(section)
        let range: ClosedRange<Int64> = 0...100_000
        let last = reader.integer(section, "keep_last", range: range, example: "10")
        let hourly = reader.integer(section, "keep_hourly", range: range, example: "24")
        let daily = reader.integer(section, "keep_daily", range: range, example: "7")
        let weekly = reader.integer(section, "keep_weekly", range: range, example: "5")
        let monthly = reader.integer(section, "keep_monthly", range: range, example: "12")
        let yearly = reader.integer(section, "keep_yearly", range: range, example: "3")
        // Up to a century: beyond that it means "forever", which is leaving forget unscheduled.
        let within = reader.duration(section, "keep_within",
                                     range: ConfigDuration(seconds: 1)...ConfigDuration(seconds: 36_500 * 86_400),
                                     example: "14d")
        let given: [(String, Bool)] = [("keep_last", last != nil), ("keep_hourly", hourly != nil),
                                       ("keep_daily", daily != nil), ("keep_weekly", weekly != nil),
                                       ("keep_monthly", monthly != nil), ("keep_yearly", yearly != nil),
                                       ("keep_within", within != nil)]
        if given.contains(where: { section.table[$0.0] != nil && !$0.1 }) { return nil }
        let result = Configuration.Retention(
            keepLast: last ?? defaults.keepLast, keepHourly: hourly ?? defaults.keepHourly,
            keepDaily: daily ?? defaults.keepDaily, keepWeekly: weekly ?? defaults.keepWeekly,
            keepMonthly: monthly ?? defaults.keepMonthly, keepYearly: yearly ?? defaults.keepYearly,
            keepWithin: within ?? defaults.keepWithin)
        if result.keepsNothing {
            reader.report(.configInvalidValue, line: section.table.line,
                          "[retention]: every keep_* is 0 and keep_within is not set, so forget would delete every snapshot but the newest — keep at least one (for example keep_daily = 7)")
            return nil
        }
        return result
    }
}

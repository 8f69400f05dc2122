import DRBase
extension ConfigurationDecoder {
    /// `[retention]`: optional; a key left out keeps its default, but not every one may be 0.
    mutating func decodeRetention(_ root: TOMLTable) -> Configuration.Retention? {
        let defaults = Configuration.Defaults.retention
        guard let section = singleSection(root, "retention") else {
            return root["retention"] == nil ? defaults : nil
        }
        reader.checkUnknownKeys(section)
        let range: ClosedRange<Int64> = 0...100_000
        let last = reader.integer(section, "keep_last", range: range, example: "10")
        let daily = reader.integer(section, "keep_daily", range: range, example: "7")
        let weekly = reader.integer(section, "keep_weekly", range: range, example: "5")
        let monthly = reader.integer(section, "keep_monthly", range: range, example: "12")
        let given = [("keep_last", last), ("keep_daily", daily), ("keep_weekly", weekly), ("keep_monthly", monthly)]
        if given.contains(where: { section.table[$0.0] != nil && $0.1 == nil }) { return nil }
        let result = Configuration.Retention(
            keepLast: last ?? defaults.keepLast, keepDaily: daily ?? defaults.keepDaily,
            keepWeekly: weekly ?? defaults.keepWeekly, keepMonthly: monthly ?? defaults.keepMonthly)
        if result.keepLast + result.keepDaily + result.keepWeekly + result.keepMonthly == 0 {
            reader.report(.configInvalidValue, line: section.table.line,
                          "[retention]: every keep_* is 0, so prune would delete every snapshot — keep at least one (for example keep_daily = 7)")
            return nil
        }
        return result
    }
}

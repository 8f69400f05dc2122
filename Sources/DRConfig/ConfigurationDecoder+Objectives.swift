extension ConfigurationDecoder {
    /// `[objectives]`: optional; a key left out keeps its default.
    mutating func decodeObjectives(_ root: TOMLTable) -> Configuration.Objectives? {
        let defaults = Configuration.Defaults.objectives
        guard let section = singleSection(root, "objectives") else {
            return root["objectives"] == nil ? defaults : nil
        }
        reader.checkUnknownKeys(section)
        let range = ConfigDuration(seconds: 60)...ConfigDuration(seconds: 365 * 86400)
        let rpo = reader.duration(section, "rpo", range: range, example: "24h")
        let rto = reader.duration(section, "rto", range: range, example: "4h")
        if (section.table["rpo"] != nil && rpo == nil) || (section.table["rto"] != nil && rto == nil) { return nil }
        return Configuration.Objectives(rpo: rpo ?? defaults.rpo, rto: rto ?? defaults.rto)
    }
}

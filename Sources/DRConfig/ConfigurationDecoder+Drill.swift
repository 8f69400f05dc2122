extension ConfigurationDecoder {
    /// `[drill]`: optional; reports go under the state folder unless `report_dir` says.
    mutating func decodeDrill(_ root: TOMLTable, stateDirectory: String) -> Configuration.Drill? {
        let reports = Paths.resolve("reports", against: stateDirectory)
        let defaults = Configuration.Drill(every: Configuration.Defaults.drillEvery,
                                           sample: Configuration.Defaults.drillSample,
                                           signingKeyFile: nil, reportDirectory: reports)
        guard let section = singleSection(root, "drill") else {
            return root["drill"] == nil ? defaults : nil
        }
        reader.checkUnknownKeys(section)
        let every = reader.duration(section, "every", range: ConfigDuration(seconds: 3600)...ConfigDuration(seconds: 365 * 86400),
                                    example: "7d")
        let sample = reader.integer(section, "sample", range: 1...100_000, example: "10")
        let signing = reader.path(section, "signing_key_file", example: "/etc/drctl/drill-signing.key")
        let reportDirectory = reader.path(section, "report_dir", example: "/var/lib/drctl/reports")
        for (key, value) in [("every", every != nil), ("sample", sample != nil),
                             ("signing_key_file", signing != nil), ("report_dir", reportDirectory != nil)]
        where section.table[key] != nil && !value {
            return nil
        }
        return Configuration.Drill(every: every ?? defaults.every, sample: sample ?? defaults.sample,
                                   signingKeyFile: signing, reportDirectory: reportDirectory ?? reports)
    }
}

extension ConfigurationDecoder {
    /// `[metrics]`: optional; without `textfile` no metrics are written.
    mutating func decodeMetrics(_ root: TOMLTable) -> Configuration.Metrics? {
        guard let section = singleSection(root, "metrics") else {
            return root["metrics"] == nil ? Configuration.Metrics() : nil
        }
        reader.checkUnknownKeys(section)
        let textfile = reader.path(section, "textfile", example: "/var/lib/prometheus/node-exporter/drctl.prom")
        if section.table["textfile"] != nil && textfile == nil { return nil }
        // node_exporter's textfile collector reads only *.prom files: any other name would be
        // written faithfully and never scraped, which is worse than an error now.
        if let textfile, !textfile.hasSuffix(".prom"), let entry = section.table["textfile"] {
            reader.invalid(section, entry, "\(quoted(textfile)) does not end in .prom: node_exporter's textfile collector reads only *.prom files — name it like \"/var/lib/prometheus/node-exporter/drctl.prom\"")
            return nil
        }
        return Configuration.Metrics(textfile: textfile)
    }
}

import DRBase
extension ConfigurationDecoder {
    /// `[[target]]`: at least one, each with a unique name and a location of its own.
    mutating func decodeTargets(_ root: TOMLTable) -> [Configuration.Target] {
        let example = "[[target]] with name = \"offsite\" and url = \"s3://bucket/prefix\" (or \"file:///absolute/path\")"
        guard let entry = root["target"] else {
            reader.report(.configMissingKey, line: nil,
                          "no target: add at least one \(example); two on separate sites are recommended")
            return []
        }
        let tables: [TOMLNode]
        switch entry.node.value {
        case .array(let nodes): tables = nodes
        case .table:
            reader.report(.configType, line: entry.line,
                          "[target] must be written [[target]] (double brackets): each [[target]] adds one target")
            return []
        default:
            reader.report(.configType, line: entry.line,
                          "target: expected one or more \(example), found \(entry.node.value.kindDescription)")
            return []
        }
        if tables.isEmpty {
            reader.report(.configMissingKey, line: entry.line, "no target: add at least one \(example)")
        }
        var targets: [Configuration.Target] = []
        for (position, node) in tables.enumerated() {
            guard case .table(let table) = node.value else {
                reader.report(.configType, line: node.line,
                              "target #\(position + 1): expected a table with name and url, found \(node.value.kindDescription)")
                continue
            }
            if let target = decodeTarget(table, number: position + 1, line: node.line) {
                if let first = targets.first(where: { $0.name == target.name }) {
                    reader.report(.configInvalidValue, line: target.line,
                                  "[[target]] #\(position + 1): duplicate target name \(quoted(target.name)) — already used by the [[target]] at line \(first.line); names must be unique")
                } else if let first = targets.first(where: { TargetRules.samePlace($0, target) }) {
                    reader.report(.configInvalidValue, line: target.line,
                                  "[[target]] #\(position + 1) \(quoted(target.name)): same location as target \(quoted(first.name)) (line \(first.line)) — two copies in one place protect against nothing")
                }
                targets.append(target)
            }
        }
        return targets
    }

    private mutating func decodeTarget(_ table: TOMLTable, number: Int, line: Int) -> Configuration.Target? {
        var section = Section(table: table, context: "[[target]] #\(number)", allowed: Self.keys(of: "target"))
        let name = reader.string(section, "name", example: "\"eu-central\"")
        if let (text, entry) = name {
            if !TargetRules.isValidName(text) {
                reader.invalid(section, entry, "\(quoted(text)) is not a valid target name: expected lowercase letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63 characters (like \"eu-central\")")
            } else {
                section = Section(table: table, context: "[[target]] #\(number) \(quoted(text))",
                                  allowed: section.allowed)
            }
        } else if table["name"] == nil {
            reader.missing(section, "name", "name = \"eu-central\" (a short unique name used in messages and commands)")
        }
        reader.checkUnknownKeys(section)

        var location: Configuration.Target.Location?
        var url: String?
        if let (text, entry) = reader.string(section, "url", example: "\"s3://bucket/prefix\"") {
            url = text
            switch TargetRules.location(of: text) {
            case .success(let parsed): location = parsed
            case .failure(let violation): reader.invalid(section, entry, violation.text)
            }
        } else if table["url"] == nil {
            reader.missing(section, "url", "url = \"s3://bucket/prefix\" or url = \"file:///absolute/path\"")
        }

        let endpointEntry = table["endpoint"]
        let endpoint = reader.string(section, "endpoint", example: "\"https://s3.eu-central-1.example.net\"")
        var region = reader.string(section, "region", example: "\"eu-central-1\"")?.0
        let credentialsFile = reader.path(section, "credentials_file", example: "/etc/drctl/offsite.credentials")

        let priority = reader.integer(section, "priority", range: 0...1000, example: "100")
        var s3 = Configuration.Target.S3Options()
        switch location {
        case .s3(let bucket, _)?:
            s3 = decodeS3Options(section, table, bucket: bucket, targetName: name?.0 ?? "target")
            if let (text, entry) = endpoint {
                if let problem = TargetRules.endpointProblem(text, allowInsecureHTTP: s3.allowInsecureHTTP) {
                    reader.invalid(section, entry, problem)
                } else if s3.addressing == .virtualHost, text.lowercased().hasPrefix("https://"), bucket.contains(".") {
                    reader.invalid(section, table["addressing"] ?? entry,
                                   "addressing = \"virtual\" puts bucket \(quoted(bucket)) in the host name, and a dotted bucket name is not covered by the server's wildcard certificate (*.host): use addressing = \"path\", or a bucket without dots")
                }
            } else if endpointEntry == nil {
                reader.missing(section, "endpoint", "endpoint = \"https://s3.example.net\" (the S3 service URL)")
            }
            region = region ?? Configuration.Defaults.region
        case .file?:
            for key in ["endpoint", "region"] + Self.s3OnlyKeys {
                if let entry = table[key] {
                    reader.invalid(section, entry, "only s3:// targets take \(key); remove it from this file:// target")
                }
            }
        case nil:
            break
        }
        if let region, let entry = table["region"],
           !region.unicodeScalars.allSatisfy({ isBareKeyScalar($0) }) {
            reader.invalid(section, entry, "\(quoted(region)) is not a region name: expected letters, digits and '-', like \"eu-central-1\"")
        }

        guard let (nameText, _) = name, TargetRules.isValidName(nameText), let location, let url else { return nil }
        return Configuration.Target(name: nameText, location: location, url: url,
                                    endpoint: endpoint?.0, region: location.isS3 ? region : nil,
                                    credentialsFile: credentialsFile, line: line,
                                    priority: priority ?? Configuration.Defaults.targetPriority, s3: s3)
    }
}

extension ConfigurationDecoder {
    /// `[state]`: decoded first, because `[drill]`'s default report folder lies in it.
    mutating func decodeState(_ root: TOMLTable) -> String {
        let fallback = Configuration.Defaults.stateDirectory
        guard let section = singleSection(root, "state") else { return fallback }
        reader.checkUnknownKeys(section)
        return reader.path(section, "path", example: fallback) ?? fallback
    }
}

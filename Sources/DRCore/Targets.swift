import DRBase
package import DRConfig
package import DRTransport

/// Builds the object stores of the configured targets, each metered (`transfer` in reports).
package enum Targets {
    package static func stores(for configuration: Configuration) throws(CoreError) -> [any ObjectStore] {
        var stores: [any ObjectStore] = []
        for target in configuration.targets {
            switch target.location {
            case .file(let path):
                stores.append(MeteredStore(FileObjectStore(targetName: target.name, root: path)))
            case .s3:
                throw CoreError(.targetS3Unsupported, message: "target \(target.name) (\(TargetRules.masked(target.url))): S3 targets are not supported by this build of drctl yet; use file:// targets for now")
            }
        }
        return stores
    }
}
